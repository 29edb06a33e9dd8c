--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: pg_trgm; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;


--
-- Name: EXTENSION pg_trgm; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION pg_trgm IS 'text similarity measurement and index searching based on trigrams';


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: rate_buckets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rate_buckets (
    bucket text NOT NULL,
    tat bigint NOT NULL,
    admitted bigint NOT NULL
);


--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    version bigint NOT NULL
);


--
-- Name: todo_changes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.todo_changes (
    id bigint NOT NULL,
    version bigint NOT NULL,
    CONSTRAINT todo_changes_id_check CHECK ((id = 0))
);


--
-- Name: todo_totals; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.todo_totals (
    is_complete bigint NOT NULL,
    total bigint NOT NULL
);


--
-- Name: todos; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.todos (
    id bigint NOT NULL,
    title text NOT NULL,
    is_complete bigint DEFAULT 0 NOT NULL,
    due_by text COLLATE pg_catalog."C",
    revision bigint DEFAULT 1 NOT NULL,
    title_folded text NOT NULL COLLATE pg_catalog."C"
);


--
-- Name: todos_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.todos ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.todos_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Data for Name: rate_buckets; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.rate_buckets VALUES ('sub previous', 1796205968047104, 1);


--
-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.schema_migrations VALUES (2);
INSERT INTO public.schema_migrations VALUES (1);


--
-- Data for Name: todo_changes; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.todo_changes VALUES (0, 8);


--
-- Data for Name: todo_totals; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.todo_totals VALUES (0, 2);
INSERT INTO public.todo_totals VALUES (1, 2);


--
-- Data for Name: todos; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.todos OVERRIDING SYSTEM VALUE VALUES (1, 'Buy milk', 0, '2030-01-31', 1, 'buy milk');
INSERT INTO public.todos OVERRIDING SYSTEM VALUE VALUES (2, 'Walk the dog', 1, NULL, 1, 'walk the dog');
INSERT INTO public.todos OVERRIDING SYSTEM VALUE VALUES (4, 'Straße fegen', 0, NULL, 3, 'straße fegen');
INSERT INTO public.todos OVERRIDING SYSTEM VALUE VALUES (5, 'ſoup', 1, NULL, 1, 'soup');


--
-- Name: todos_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.todos_id_seq', 5, true);


--
-- Name: rate_buckets rate_buckets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rate_buckets
    ADD CONSTRAINT rate_buckets_pkey PRIMARY KEY (bucket);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: todo_changes todo_changes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.todo_changes
    ADD CONSTRAINT todo_changes_pkey PRIMARY KEY (id);


--
-- Name: todo_totals todo_totals_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.todo_totals
    ADD CONSTRAINT todo_totals_pkey PRIMARY KEY (is_complete);


--
-- Name: todos todos_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.todos
    ADD CONSTRAINT todos_pkey PRIMARY KEY (id);


--
-- Name: todos_by_completion; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX todos_by_completion ON public.todos USING btree (is_complete, id);


--
-- Name: todos_by_due_by; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX todos_by_due_by ON public.todos USING btree (due_by, id);


--
-- Name: todos_by_title; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX todos_by_title ON public.todos USING btree (title_folded, id);


--
-- Name: todos_by_title_trigrams; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX todos_by_title_trigrams ON public.todos USING gin (title_folded public.gin_trgm_ops);


--
-- PostgreSQL database dump complete
--


