//! The statement of a single-image read, rendered once per visibility shape and engine:
//! building it with sea-query on every request is a noticeable share of a point read. It is
//! still built by [`statements::select_image`], so the query logic stays in one place; only
//! the SQL text and the places of its parameters are kept.

use super::engine::{Engine, Sql};
use super::statements;
use crate::domain::ImageId;
use crate::domain::query::Visibility;
use sea_query::{Value, Values};
use std::sync::OnceLock;

/// The point-read statement of each visibility shape, rendered on first use.
#[derive(Debug, Default)]
pub struct PointReads {
    templates: [OnceLock<Template>; SHAPES],
}

#[derive(Debug)]
struct Template {
    text: String,
    params: Vec<Param>,
}

/// What goes into each placeholder of a [`Template`].
#[derive(Debug)]
enum Param {
    Id,
    Owner,
    Fixed(Value),
}

/// Stand-ins for the request's values while a template is rendered; a parameter that renders
/// as one of them is filled from the request.
const ID_STANDIN: &str = "\u{0}point-read-id";
const OWNER_STANDIN: &str = "\u{0}point-read-owner";

/// The visibility shapes a point read can have: each variant, with and without an owner.
const SHAPES: usize = 8;

fn shape(vis: &Visibility) -> Option<usize> {
    Some(match vis {
        Visibility::Everything => 0,
        Visibility::NonPublic => 1,
        Visibility::Visible { owner: None } => 2,
        Visibility::Visible { owner: Some(_) } => 3,
        Visibility::PublicOwnShared { owner: None } => 4,
        Visibility::PublicOwnShared { owner: Some(_) } => 5,
        Visibility::Readable { project: None } => 6,
        Visibility::Readable { project: Some(_) } => 7,
        // List scopes: not a point-read shape; such a read is built on the spot.
        Visibility::ListedFor { .. } | Visibility::AdminList { .. } => return None,
    })
}

fn owner(vis: &Visibility) -> Option<&str> {
    match vis {
        Visibility::Visible { owner } | Visibility::PublicOwnShared { owner } => owner.as_deref(),
        Visibility::Readable { project } => project.as_deref(),
        Visibility::Everything
        | Visibility::NonPublic
        | Visibility::ListedFor { .. }
        | Visibility::AdminList { .. } => None,
    }
}

impl Template {
    /// Renders the statement for `vis`'s shape, with stand-ins for the id and the owner.
    fn render<E: Engine>(vis: &Visibility) -> Self {
        let standin = match vis {
            Visibility::Visible { owner: Some(_) } => Visibility::Visible {
                owner: Some(OWNER_STANDIN.into()),
            },
            Visibility::PublicOwnShared { owner: Some(_) } => Visibility::PublicOwnShared {
                owner: Some(OWNER_STANDIN.into()),
            },
            Visibility::Readable { project: Some(_) } => Visibility::Readable {
                project: Some(OWNER_STANDIN.into()),
            },
            other => other.clone(),
        };
        let id = ImageId::from_trusted(ID_STANDIN.into());
        let sql = E::render(&statements::select_image(&id, &standin));
        let params = sql
            .values
            .0
            .into_iter()
            .map(|v| match v {
                Value::String(Some(s)) if s == ID_STANDIN => Param::Id,
                Value::String(Some(s)) if s == OWNER_STANDIN => Param::Owner,
                other => Param::Fixed(other),
            })
            .collect();
        Template {
            text: sql.text,
            params,
        }
    }

    /// The statement of a read of `id` as `vis`.
    fn bind(&self, id: &ImageId, vis: &Visibility) -> Sql {
        let values = self
            .params
            .iter()
            .map(|p| match p {
                Param::Id => Value::String(Some(id.as_str().to_owned())),
                Param::Owner => Value::String(owner(vis).map(str::to_owned)),
                Param::Fixed(v) => v.clone(),
            })
            .collect();
        Sql {
            text: self.text.clone(),
            values: Values(values),
        }
    }
}

impl PointReads {
    /// The statement reading `id` as `vis` in `E`'s dialect. One instance serves one engine.
    pub fn statement<E: Engine>(&self, id: &ImageId, vis: &Visibility) -> Sql {
        match shape(vis) {
            Some(n) => self.templates[n]
                .get_or_init(|| Template::render::<E>(vis))
                .bind(id, vis),
            None => E::render(&statements::select_image(id, vis)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sql::engine::{mysql::MySql, postgres::Postgres, sqlite::Sqlite};

    /// A filled template must be exactly the statement sea-query builds for the request, for
    /// every visibility shape and engine.
    fn filled_templates_are_the_statements_built_for_the_request<E: Engine>() {
        let id = ImageId::from_trusted("4b1c2a4e-9a0e-4b7a-8d0e-2f1f5a1e2b3c".into());
        let owner = Some("tenant-a".to_string());
        let cases = [
            Visibility::Everything,
            Visibility::NonPublic,
            Visibility::Visible { owner: None },
            Visibility::Visible {
                owner: owner.clone(),
            },
            Visibility::PublicOwnShared { owner: None },
            Visibility::PublicOwnShared {
                owner: owner.clone(),
            },
            Visibility::Readable { project: None },
            Visibility::Readable { project: owner },
        ];
        let mut seen = std::collections::HashSet::new();
        let reads = PointReads::default();
        for vis in &cases {
            assert!(
                seen.insert(shape(vis).expect("a point-read shape")),
                "two cases share a shape: {vis:?}"
            );
            let expected = E::render(&statements::select_image(&id, vis));
            assert_eq!(reads.statement::<E>(&id, vis), expected, "{vis:?}");
        }
    }

    #[test]
    fn a_filled_template_is_the_statement_built_for_the_request() {
        filled_templates_are_the_statements_built_for_the_request::<Sqlite>();
        filled_templates_are_the_statements_built_for_the_request::<Postgres>();
        filled_templates_are_the_statements_built_for_the_request::<MySql>();
    }
}
