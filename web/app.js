// The Todo page: the public API only (GET/POST /todos, GET/PUT/PATCH/DELETE /todos/{id}),
// every change sent with If-Match, titles shown as text, never as HTML.
"use strict";

const PAGE_SIZE = 20;
const TOKEN_KEY = "todo-api-token";

const state = { filter: "all", search: "", sort: "id", page: 1, pages: 1 };
const $ = (id) => document.getElementById(id);

/// Says `text` to screen readers (and shows it), politely.
function announce(text) {
  $("status").textContent = text;
}

/// Shows an error that belongs to no field; `null` hides it.
function alertText(text) {
  const alert = $("alert");
  alert.hidden = !text;
  alert.textContent = text || "";
}

/// A problem's words: its detail, else its title, else the status.
function problemText(problem, response) {
  return (problem && (problem.detail || problem.title)) || `The server answered ${response.status}.`;
}

/// Asks for a bearer token once; resolves with it, or null where the user cancels.
function askForToken(message) {
  const dialog = $("token-dialog");
  const error = $("token-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("token").value = "";
  return new Promise((resolve) => {
    const done = (token) => {
      $("token-form").removeEventListener("submit", submit);
      $("token-cancel").removeEventListener("click", cancel);
      dialog.removeEventListener("cancel", cancel);
      dialog.close();
      resolve(token);
    };
    const submit = (event) => {
      event.preventDefault();
      const token = $("token").value.trim();
      if (token) done(token);
    };
    const cancel = (event) => {
      event.preventDefault();
      done(null);
    };
    $("token-form").addEventListener("submit", submit);
    $("token-cancel").addEventListener("click", cancel);
    dialog.addEventListener("cancel", cancel);
    dialog.showModal();
    $("token").focus();
  });
}

/// Sends a request to the API with the tab's token; on 401 asks for a token and sends it
/// again. Resolves with { response, body } (body: parsed JSON, or null).
async function api(method, path, { body, headers = {}, contentType } = {}) {
  for (;;) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const all = { ...headers };
    if (token) all.Authorization = `Bearer ${token}`;
    if (body !== undefined) all["Content-Type"] = contentType || "application/json";
    const response = await fetch(path, {
      method,
      headers: all,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-cache",
    });
    const text = method === "HEAD" ? "" : await response.text();
    let parsed = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    if (response.status === 401) {
      const message = token ? problemText(parsed, response) : null;
      sessionStorage.removeItem(TOKEN_KEY);
      const fresh = await askForToken(message);
      if (!fresh) return { response, body: parsed };
      sessionStorage.setItem(TOKEN_KEY, fresh);
      continue;
    }
    return { response, body: parsed };
  }
}

/// Shows a problem's field errors next to their fields (`fields`: API field name -> the
/// element that shows its error); what names no field goes to the alert.
function showProblem(problem, response, fields = {}) {
  for (const element of Object.values(fields)) {
    element.hidden = true;
    element.textContent = "";
  }
  const errors = (problem && problem.errors) || {};
  let placed = false;
  for (const [name, messages] of Object.entries(errors)) {
    const element = fields[name];
    if (element) {
      element.hidden = false;
      element.textContent = messages.join(" ");
      placed = true;
    }
  }
  if (!placed) alertText(problemText(problem, response));
  announce(placed ? "Please check the highlighted fields." : problemText(problem, response));
}

/// The list's URL for the current filter, search, sort and page.
function listUrl() {
  const params = new URLSearchParams();
  if (state.filter !== "all") params.set("isComplete", String(state.filter === "completed"));
  if (state.search) params.set("title", state.search);
  if (state.sort !== "id") params.set("sort", state.sort);
  params.set("page", String(state.page));
  params.set("pageSize", String(PAGE_SIZE));
  return `/todos?${params}`;
}

/// The rels of an RFC 8288 Link header ("next", "prev").
function linkRels(header) {
  const rels = new Set();
  for (const part of (header || "").split(",")) {
    const match = part.match(/rel="?([^";]+)"?/);
    if (match) rels.add(match[1]);
  }
  return rels;
}

async function load() {
  const { response, body } = await api("GET", listUrl());
  if (!response.ok) {
    showProblem(body, response);
    return;
  }
  alertText(null);
  const total = Number(response.headers.get("X-Total-Count") || 0);
  state.pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  if (state.page > state.pages) {
    state.page = state.pages;
    return load();
  }
  const rels = linkRels(response.headers.get("Link"));
  $("prev").disabled = !rels.has("prev");
  $("next").disabled = !rels.has("next");
  $("page-info").textContent = `Page ${state.page} of ${state.pages} · ${total} ${total === 1 ? "todo" : "todos"}`;
  render(body || []);
}

function render(todos) {
  const list = $("todos");
  list.replaceChildren(...todos.map(item));
  $("empty").hidden = todos.length > 0;
}

/// One todo's row: a checkbox, its title and date (as text), edit and delete.
function item(todo) {
  const row = document.createElement("li");
  row.className = todo.isComplete ? "todo done" : "todo";
  row.dataset.id = String(todo.id);

  const check = document.createElement("input");
  check.type = "checkbox";
  check.checked = todo.isComplete;
  check.id = `done-${todo.id}`;
  const label = document.createElement("label");
  label.htmlFor = check.id;
  label.className = "title";
  label.textContent = todo.title;
  // The list is drawn anew after the change: focus goes back to this todo's checkbox, so a
  // keyboard user toggling with Space stays where they were.
  check.addEventListener("change", () =>
    change(todo.id, { isComplete: check.checked }, "PATCH").then(() => focusRow(todo.id)),
  );

  const due = document.createElement("span");
  due.className = "due";
  due.textContent = todo.dueBy ? `due ${todo.dueBy}` : "";

  const edit = button("Edit", `Edit “${todo.title}”`, () => startEdit(row, todo.id));
  const remove = button("Delete", `Delete “${todo.title}”`, () => removeTodo(todo));
  const actions = document.createElement("span");
  actions.className = "actions";
  actions.append(edit, remove);

  row.append(check, label, due, actions);
  return row;
}

function button(text, name, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = "plain";
  element.textContent = text;
  element.setAttribute("aria-label", name);
  element.addEventListener("click", onClick);
  return element;
}

/// The todo's tag as the API has it now (GET), and its body.
async function current(id) {
  const { response, body } = await api("GET", `/todos/${id}`);
  return response.ok ? { tag: response.headers.get("ETag"), todo: body } : null;
}

/// Sends a change with If-Match (the tag read just before); on 412 offers the newer version.
async function change(id, fields, method, errorFields = {}) {
  const now = await current(id);
  if (!now) {
    announce("That todo is gone.");
    return load();
  }
  return send(id, fields, method, now.tag, now.todo, errorFields);
}

async function send(id, fields, method, tag, seen, errorFields) {
  const body = method === "PUT" ? { title: seen.title, dueBy: seen.dueBy, isComplete: seen.isComplete, ...fields } : fields;
  const { response, body: answer } = await api(method, `/todos/${id}`, {
    body,
    headers: { "If-Match": tag },
    contentType: method === "PATCH" ? "application/merge-patch+json" : "application/json",
  });
  if (response.status === 412) return conflict(id, fields, method, errorFields);
  if (!response.ok) {
    showProblem(answer, response, errorFields);
    return false;
  }
  alertText(null);
  announce(`Saved “${answer.title}”.`);
  await load();
  return true;
}

/// Shows the stored todo beside the user's change: keep theirs, or save mine over it.
async function conflict(id, fields, method, errorFields) {
  const now = await current(id);
  if (!now) {
    announce("That todo was deleted meanwhile.");
    return load();
  }
  $("conflict-theirs").textContent = describe(now.todo);
  $("conflict-mine").textContent = describe({ ...now.todo, ...fields });
  const dialog = $("conflict-dialog");
  announce("This todo was changed meanwhile.");
  const choice = await new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
    dialog.returnValue = "theirs";
    dialog.showModal();
  });
  if (choice === "mine") return send(id, fields, method, now.tag, now.todo, errorFields);
  announce("Kept the stored version.");
  await load();
  return true;
}

function describe(todo) {
  const parts = [todo.title, todo.isComplete ? "done" : "not done"];
  if (todo.dueBy) parts.push(`due ${todo.dueBy}`);
  return parts.join(", ");
}

/// Edits a todo's title and date in place: Enter saves, Escape cancels. The todo is read as
/// the edit begins, and the change is sent with the tag of that read: a change made
/// meanwhile elsewhere answers 412, and the user chooses.
async function startEdit(row, id) {
  const read = await current(id);
  if (!read) {
    announce("That todo is gone.");
    return load();
  }
  const { tag, todo } = read;
  const form = document.createElement("form");
  form.noValidate = true;
  const title = field("Title", "text", todo.title, `edit-title-${todo.id}`);
  const due = field("Due", "date", todo.dueBy || "", `edit-due-${todo.id}`);
  const save = document.createElement("button");
  save.textContent = "Save";
  const cancel = button("Cancel", "Cancel editing", () => load());
  form.append(title.wrapper, due.wrapper, save, cancel);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      load().then(() => focusRow(todo.id));
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const saved = await send(
      todo.id,
      { title: title.input.value, dueBy: due.input.value || null },
      "PUT",
      tag,
      todo,
      { title: title.error, dueBy: due.error },
    );
    if (saved) focusRow(todo.id);
  });
  row.replaceChildren(form);
  title.input.focus();
  title.input.select();
}

function field(text, type, value, id) {
  const wrapper = document.createElement("div");
  wrapper.className = "field";
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = text;
  const input = document.createElement("input");
  input.id = id;
  input.type = type;
  input.value = value;
  const error = document.createElement("p");
  error.className = "error";
  error.id = `${id}-error`;
  error.hidden = true;
  input.setAttribute("aria-describedby", error.id);
  wrapper.append(label, input, error);
  return { wrapper, input, error };
}

/// Focuses the todo's checkbox; where the todo left the list (a filter, a delete), the
/// first todo's, else the new todo's title field: never the page's body.
function focusRow(id) {
  const target =
    document.querySelector(`li[data-id="${id}"] input[type="checkbox"]`) ||
    document.querySelector('#todos input[type="checkbox"]') ||
    $("add-title");
  target.focus();
}

/// Deletes with If-Match; the focus then goes to the todo in the deleted one's place.
async function removeTodo(todo) {
  const place = [...$("todos").children].findIndex((row) => row.dataset.id === String(todo.id));
  await deleteTodo(todo);
  focusPlace(place);
}

async function deleteTodo(todo) {
  const now = await current(todo.id);
  if (!now) {
    announce("That todo is gone already.");
    return load();
  }
  const { response, body } = await api("DELETE", `/todos/${todo.id}`, { headers: { "If-Match": now.tag } });
  if (response.status === 412) {
    announce("This todo was changed meanwhile; it was not deleted.");
    return load();
  }
  if (!response.ok && response.status !== 404) return showProblem(body, response);
  announce(`Deleted “${now.todo.title}”.`);
  return load();
}

/// Focuses the checkbox of the todo at `place` in the list (the last one, where the list is
/// shorter now), else the new todo's title field.
function focusPlace(place) {
  const boxes = document.querySelectorAll('#todos input[type="checkbox"]');
  (boxes[Math.min(place, boxes.length - 1)] || $("add-title")).focus();
}

async function add(event) {
  event.preventDefault();
  const title = $("add-title");
  const due = $("add-due");
  const { response, body } = await api("POST", "/todos", {
    body: { title: title.value, dueBy: due.value || null },
  });
  if (!response.ok) {
    showProblem(body, response, { title: $("add-title-error"), dueBy: $("add-due-error") });
    title.focus();
    return;
  }
  for (const id of ["add-title-error", "add-due-error"]) $(id).hidden = true;
  alertText(null);
  title.value = "";
  due.value = "";
  announce(`Added “${body.title}”.`);
  await load();
  title.focus();
}

function start() {
  $("add").addEventListener("submit", add);
  for (const radio of document.querySelectorAll('input[name="filter"]')) {
    radio.addEventListener("change", () => {
      state.filter = radio.value;
      state.page = 1;
      load();
    });
  }
  let typing;
  $("search").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      state.search = $("search").value;
      state.page = 1;
      load();
    }, 250);
  });
  $("sort").addEventListener("change", () => {
    state.sort = $("sort").value;
    state.page = 1;
    load();
  });
  $("prev").addEventListener("click", () => {
    state.page = Math.max(1, state.page - 1);
    load();
  });
  $("next").addEventListener("click", () => {
    state.page += 1;
    load();
  });
  load();
}

start();
