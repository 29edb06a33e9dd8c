//! The query string of `GET /todos`: filters, search, order and paging, and the `Link`
//! header (RFC 8288) to the neighbouring pages, which keeps every one of them.
//!
//! Parameters the API does not read are ignored, as the seed's minimal API ignores them.
//! A parameter it reads given more than once is `400` naming it: the seed binds each to a
//! single value, which two values cannot be.

use crate::store::{FNV_START, ListQuery, Sort, fnv1a};
use crate::todo::{FieldErrors, fold_case};

use super::failure::Failure;

pub const DEFAULT_PAGE_SIZE: u64 = 100;
pub const MAX_PAGE_SIZE: u64 = 1000;

/// `sort`'s values and the orders they name.
const SORTS: [(&str, Sort); 6] = [
    ("id", Sort::Id),
    ("-id", Sort::IdDescending),
    ("dueBy", Sort::DueBy),
    ("-dueBy", Sort::DueByDescending),
    ("title", Sort::Title),
    ("-title", Sort::TitleDescending),
];

/// `GET /todos` query parameters, parsed: `isComplete`, `title` (contained, ignoring case),
/// `sort`, `page` (1-based), `pageSize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    is_complete: Option<bool>,
    title: Option<String>,
    sort: Option<&'static str>,
    page: u64,
    page_size: u64,
    /// Whose list (owner mode, an admin's `?owner=`), kept in the links.
    owner: Option<String>,
}

/// `owner` of a list's query (owner mode: an admin's view of another owner's todos), bound
/// ignoring ASCII case like the others; the first where given more than once.
pub fn owner_param(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key.eq_ignore_ascii_case("owner"))
        .map(|(_, value)| value.into_owned())
}

impl ListParams {
    /// A fingerprint of what these parameters select, for the list's entity tag: equal
    /// parameters, however spelled in the URL, give equal fingerprints.
    pub fn fingerprint(&self) -> u64 {
        let completion = match self.is_complete {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        let mut hash = fnv1a(FNV_START, &[completion]);
        hash = fnv1a(hash, &self.page.to_le_bytes());
        hash = fnv1a(hash, &self.page_size.to_le_bytes());
        hash = fnv1a(hash, self.sort.unwrap_or("").as_bytes());
        match &self.title {
            // Last, after a byte no sort name holds: nothing that follows can be mistaken
            // for another field.
            Some(title) => fnv1a(fnv1a(hash, b"\n"), title.as_bytes()),
            None => hash,
        }
    }

    pub fn parse(query: &str) -> Result<Self, Failure> {
        let mut params = Self {
            is_complete: None,
            title: None,
            sort: None,
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
            owner: None,
        };
        let mut errors = FieldErrors::new();
        let mut reject = |field: &str, message: String| {
            errors.entry(field.to_owned()).or_default().push(message);
        };
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            // Names bind ignoring ASCII case, as ASP.NET Core binds a query (`?Page=2`).
            let Some(name) = ["isComplete", "title", "sort", "page", "pageSize", "owner"]
                .into_iter()
                .find(|name| name.eq_ignore_ascii_case(&key))
            else {
                continue;
            };
            if seen.contains(&name) {
                reject(
                    name,
                    format!("{name} is given more than once; give it once."),
                );
                continue;
            }
            seen.push(name);
            match name {
                "isComplete" => match &*value {
                    "true" => params.is_complete = Some(true),
                    "false" => params.is_complete = Some(false),
                    _ => reject(name, format!("'{value}' is not true or false.")),
                },
                "title" => params.title = Some(value.into_owned()),
                "owner" => params.owner = Some(value.into_owned()),
                "sort" => match SORTS.iter().find(|(wire, _)| *wire == value) {
                    Some((wire, _)) => params.sort = Some(wire),
                    None => {
                        let allowed: Vec<&str> = SORTS.iter().map(|(wire, _)| *wire).collect();
                        reject(
                            name,
                            format!(
                                "'{value}' is not a sort order; use one of {}.",
                                allowed.join(", ")
                            ),
                        );
                    }
                },
                "page" => match value.parse::<u32>() {
                    Ok(page) if page >= 1 => params.page = u64::from(page),
                    _ => reject(name, format!("'{value}' is not a page number (1 or more).")),
                },
                _ => match value.parse::<u64>() {
                    Ok(size) if (1..=MAX_PAGE_SIZE).contains(&size) => params.page_size = size,
                    _ => reject(
                        name,
                        format!("'{value}' is not a page size from 1 to {MAX_PAGE_SIZE}."),
                    ),
                },
            }
        }
        if errors.is_empty() {
            Ok(params)
        } else {
            Err(Failure::Invalid(errors))
        }
    }

    /// What the store is asked for.
    pub fn store_query(&self) -> ListQuery {
        ListQuery {
            is_complete: self.is_complete,
            title_contains: self.title.as_deref().map(fold_case),
            sort: SORTS
                .iter()
                .find(|(wire, _)| Some(*wire) == self.sort)
                .map_or(Sort::Id, |(_, sort)| *sort),
            offset: (self.page - 1).saturating_mul(self.page_size),
            limit: self.page_size,
        }
    }

    /// RFC 8288 links to the neighbouring pages that exist.
    pub fn link_header(&self, total: u64) -> Option<String> {
        let last_page = total.div_ceil(self.page_size).max(1);
        let mut links = Vec::new();
        if self.page < last_page {
            links.push(format!("<{}>; rel=\"next\"", self.url(self.page + 1)));
        }
        if self.page > 1 {
            links.push(format!(
                "<{}>; rel=\"prev\"",
                self.url((self.page - 1).min(last_page))
            ));
        }
        (!links.is_empty()).then(|| links.join(", "))
    }

    /// This list at another page, every other parameter as given.
    fn url(&self, page: u64) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(owner) = &self.owner {
            query.append_pair("owner", owner);
        }
        if let Some(flag) = self.is_complete {
            query.append_pair("isComplete", if flag { "true" } else { "false" });
        }
        if let Some(title) = &self.title {
            query.append_pair("title", title);
        }
        if let Some(sort) = self.sort {
            query.append_pair("sort", sort);
        }
        query.append_pair("page", &page.to_string());
        query.append_pair("pageSize", &self.page_size.to_string());
        format!("/todos?{}", query.finish())
    }
}
