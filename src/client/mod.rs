//! The command-line client: `glimpse image|member|shared ...` against a running registry.
//!
//! ```text
//! glimpse image list [--name N] [--status S] [--property k=v]... [--sort-key K] [--limit N] [--all] [--json]
//! glimpse image show ID [--json | --etag]
//! glimpse image create [--id UUID] [--name N] [--disk-format F] ... [--property k=v]... [--json]
//! glimpse image update ID [fields...] [--unset FIELD]... [--purge-props] [--from-state S] [--if-match ETAG] [--json]
//! glimpse image delete ID [--if-match ETAG] [--json]
//! glimpse member list IMAGE [--json]
//! glimpse member add IMAGE MEMBER [--can-share [BOOL]]
//! glimpse member remove IMAGE MEMBER
//! glimpse member replace IMAGE MEMBER[:can_share]... | --clear
//! glimpse shared TENANT [--json]
//! ```
//!
//! Global options (flags or environment): `--url` (`GLIMPSE_URL`, default
//! `http://127.0.0.1:9191`), `--token` (`GLIMPSE_TOKEN`), `--tenant` (`GLIMPSE_TENANT`),
//! `--roles` (`GLIMPSE_ROLES`), `--user` (`GLIMPSE_USER`), `--timeout` (`GLIMPSE_TIMEOUT`,
//! seconds, default 30). With a token the client sends `X-Auth-Token`,
//! `X-Identity-Status: Confirmed`, `X-Tenant-Id`, `X-User-Id` and `X-Roles`; without one it sends
//! none of them, and the registry serves it as its no-token admin (where it allows that).
//!
//! Tables go to stdout for people; `--json` prints the registry's JSON, pretty-printed, for
//! scripts (`image list --all --json` prints one `{"images": [...]}` with every page). Errors
//! are one line on stderr, `glimpse: 404 Not Found: Image not found`, and the exit code says
//! what happened:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the registry refused the request: a 4xx other than those below (400, 401, 403, 413, ...) |
//! | 2 | usage error: bad flags or values, rejected before anything is sent |
//! | 3 | not found (404): no such image or member, or one the caller may not see |
//! | 4 | conflict or failed precondition (409, 412): `--if-match` or `--from-state` did not hold, id taken |
//! | 5 | server error (5xx), or an answer that is not the registry's API |
//! | 6 | cannot connect, or another network error or timeout |

mod args;
mod http;
pub mod render;

pub use args::{
    ClientCommand, ClientOptions, CreateArgs, DeleteArgs, ImageCommand, ImageFields, ListArgs,
    MemberAddArgs, MemberCommand, MemberListArgs, MemberRemoveArgs, MemberReplaceArgs, SharedArgs,
    ShowArgs, UpdateArgs,
};
pub use http::Failure;

use clap::Parser;
use http::Api;
use serde_json::{Map, Value, json};
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

/// The exit codes of the client commands (see the module documentation).
pub mod exit {
    pub const OK: u8 = 0;
    /// A 4xx answer other than 404, 409 and 412.
    pub const CLIENT: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_FOUND: u8 = 3;
    /// 409 Conflict or 412 Precondition Failed.
    pub const CONFLICT: u8 = 4;
    /// 5xx, or an answer that is not the registry's.
    pub const SERVER: u8 = 5;
    pub const NETWORK: u8 = 6;
}

/// Runs one client command, printing to stdout and stderr; returns the exit code to end with.
pub async fn run(opts: ClientOptions, cmd: ClientCommand) -> ExitCode {
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    ExitCode::from(execute(&opts, cmd, &mut out, &mut err).await)
}

/// What a client command printed and how it ended (see [`run_args`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

/// The client on its own: global options and one command, as `glimpse` would parse them.
#[derive(Debug, Parser)]
#[command(
    name = "glimpse",
    about = "Client of a glimpse (Glance registry v1) server"
)]
pub struct ClientCli {
    #[command(flatten)]
    pub options: ClientOptions,
    #[command(subcommand)]
    pub command: ClientCommand,
}

/// Parses the arguments (without the program name) as `glimpse` would and runs the command,
/// capturing its output: the whole client, testable without the binary.
pub async fn run_args<I, T>(args: I) -> Outcome
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv = std::iter::once(OsString::from("glimpse")).chain(args.into_iter().map(Into::into));
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let code = match ClientCli::try_parse_from(argv) {
        Ok(cli) => execute(&cli.options, cli.command, &mut stdout, &mut stderr).await,
        Err(e) => {
            let text = e.render().to_string();
            if e.use_stderr() {
                stderr.extend_from_slice(text.as_bytes());
                exit::USAGE
            } else {
                stdout.extend_from_slice(text.as_bytes());
                exit::OK
            }
        }
    };
    Outcome {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs a command, writing its output to `out` and its diagnostics to `err`; returns the exit
/// code.
pub async fn execute(
    opts: &ClientOptions,
    cmd: ClientCommand,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> u8 {
    if opts.token.is_none()
        && (opts.tenant.is_some() || opts.roles.is_some() || opts.user.is_some())
    {
        let _ = writeln!(
            err,
            "glimpse: warning: --tenant, --user and --roles are only sent with --token; \
             without a token the registry treats this client as its admin"
        );
    }
    let result = match Api::new(opts) {
        Ok(api) => dispatch(&api, cmd, err).await,
        Err(f) => Err(f),
    };
    match result {
        Ok(text) => match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => exit::OK,
            // `glimpse image list | head`: the reader has seen what it wanted.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
            Err(e) => {
                let _ = writeln!(err, "glimpse: cannot write the output: {e}");
                exit::CLIENT
            }
        },
        Err(f) => {
            let _ = writeln!(err, "glimpse: {}", f.message);
            f.code
        }
    }
}

/// Runs the command; returns what to print on stdout.
async fn dispatch(
    api: &Api,
    cmd: ClientCommand,
    err: &mut (dyn Write + Send),
) -> Result<String, Failure> {
    match cmd {
        ClientCommand::Image(ImageCommand::List(a)) => list(api, &a, err).await,
        ClientCommand::Image(ImageCommand::Show(a)) => {
            let (body, etag) = api.show(&a.id).await?;
            if a.etag {
                return match etag {
                    Some(tag) => Ok(format!("{tag}\n")),
                    None => Err(Failure {
                        code: exit::SERVER,
                        message: "the registry sent no ETag for this image".into(),
                    }),
                };
            }
            Ok(image_output(&body, etag.as_deref(), a.json))
        }
        ClientCommand::Image(ImageCommand::Create(a)) => {
            let mut image = fields_json(&a.fields);
            if let Some(id) = a.id {
                image.insert("id".into(), Value::String(id));
            }
            let (body, etag) = api.create(&json!({ "image": image })).await?;
            Ok(image_output(&body, etag.as_deref(), a.json))
        }
        ClientCommand::Image(ImageCommand::Update(a)) => {
            let body = update_body(&a)?;
            let (body, etag) = api
                .update(&a.id, &body, a.purge_props, a.if_match.as_deref())
                .await?;
            Ok(image_output(&body, etag.as_deref(), a.json))
        }
        ClientCommand::Image(ImageCommand::Delete(a)) => {
            let body = api.delete(&a.id, a.if_match.as_deref()).await?;
            if a.json {
                Ok(pretty(&body))
            } else {
                Ok(format!("Deleted image {}\n", http::one_line(&a.id)))
            }
        }
        ClientCommand::Member(MemberCommand::List(a)) => {
            let body = api.members(&a.image).await?;
            if a.json {
                return Ok(pretty(&body));
            }
            Ok(render::members(array(&body, "members")))
        }
        ClientCommand::Member(MemberCommand::Add(a)) => {
            api.add_member(&a.image, &a.member, a.can_share).await?;
            let share = match a.can_share {
                Some(true) => " (can share)",
                Some(false) => " (cannot share)",
                None => "",
            };
            Ok(format!(
                "Image {} is shared with {}{share}\n",
                http::one_line(&a.image),
                http::one_line(&a.member)
            ))
        }
        ClientCommand::Member(MemberCommand::Remove(a)) => {
            api.remove_member(&a.image, &a.member).await?;
            Ok(format!(
                "Image {} is no longer shared with {}\n",
                http::one_line(&a.image),
                http::one_line(&a.member)
            ))
        }
        ClientCommand::Member(MemberCommand::Replace(a)) => {
            api.replace_members(&a.image, &a.members).await?;
            Ok(format!(
                "Image {} is now shared with {} member(s)\n",
                http::one_line(&a.image),
                a.members.len()
            ))
        }
        ClientCommand::Shared(a) => {
            let body = api.shared(&a.tenant).await?;
            if a.json {
                return Ok(pretty(&body));
            }
            Ok(render::shared(array(&body, "shared_images")))
        }
    }
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

fn array<'a>(body: &'a Value, key: &str) -> &'a [Value] {
    body.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `{"image": {...}}` as a table, or pretty JSON.
fn image_output(body: &Value, etag: Option<&str>, as_json: bool) -> String {
    if as_json {
        pretty(body)
    } else {
        render::image_detail(&body["image"], etag)
    }
}

/// The query of `image list`, named as the API names its parameters.
fn list_query(a: &ListArgs) -> Vec<(String, String)> {
    let mut q: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            q.push((k.to_owned(), v));
        }
    };
    let s = |v: &Option<u64>| v.map(|n| n.to_string());
    let b = |v: &Option<bool>| v.map(|b| b.to_string());
    put("name", a.name.clone());
    put("status", a.status.clone());
    put("disk_format", a.disk_format.clone());
    put("container_format", a.container_format.clone());
    put("size_min", s(&a.size_min));
    put("size_max", s(&a.size_max));
    put("min_ram", s(&a.min_ram));
    put("min_disk", s(&a.min_disk));
    put("protected", b(&a.protected));
    put("changes-since", a.changes_since.clone());
    put("is_public", a.is_public.clone());
    put("deleted", b(&a.deleted));
    put("sort_key", a.sort_key.clone());
    put("sort_dir", a.sort_dir.clone());
    put("limit", s(&a.limit));
    put("marker", a.marker.clone());
    for (k, v) in &a.properties {
        q.push((format!("property-{k}"), v.clone()));
    }
    q
}

/// `image list`: one page, or with `--all` every page, following the `Link` header (or, from
/// a registry without it, the last id of each full page).
async fn list(api: &Api, a: &ListArgs, err: &mut (dyn Write + Send)) -> Result<String, Failure> {
    let mut query = list_query(a);
    let mut images: Vec<Value> = Vec::new();
    let mut more = false;
    loop {
        let page = api.list(&query).await?;
        let count = page.images.len();
        let last_id = page
            .images
            .last()
            .and_then(|i| i.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        images.extend(page.images);
        let next = match (page.next, &last_id) {
            (Some(next), _) => Some(next),
            (None, Some(last)) if a.limit.is_some_and(|l| l > 0 && count as u64 >= l) => {
                let mut q: Vec<_> = query
                    .iter()
                    .filter(|(k, _)| k != "marker")
                    .cloned()
                    .collect();
                q.push(("marker".into(), last.clone()));
                Some(q)
            }
            _ => None,
        };
        let Some(next) = next else { break };
        if count == 0 {
            break;
        }
        if !a.all {
            more = true;
            break;
        }
        let marker_of = |q: &[(String, String)]| {
            q.iter()
                .find(|(k, _)| k == "marker")
                .map(|(_, v)| v.clone())
        };
        if marker_of(&next).is_none() || marker_of(&next) == marker_of(&query) {
            return Err(Failure {
                code: exit::SERVER,
                message: "the registry's next page link does not move on; stopping".into(),
            });
        }
        query = next;
    }
    if a.json {
        return Ok(pretty(&json!({ "images": images })));
    }
    if more
        && let Some(last) = images
            .last()
            .and_then(|i| i.get("id"))
            .and_then(Value::as_str)
    {
        let _ = writeln!(
            err,
            "glimpse: the page is full, more images may follow: use --all, or --marker {}",
            http::one_line(last)
        );
    }
    Ok(render::image_list(&images))
}

/// The fields given on the command line, as the JSON of an image.
fn fields_json(f: &ImageFields) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), v);
        }
    };
    let s = |v: &Option<String>| v.clone().map(Value::String);
    let n = |v: &Option<u64>| v.map(Value::from);
    let b = |v: &Option<bool>| v.map(Value::Bool);
    put("name", s(&f.name));
    put("status", s(&f.status));
    put("disk_format", s(&f.disk_format));
    put("container_format", s(&f.container_format));
    put("size", n(&f.size));
    put("virtual_size", n(&f.virtual_size));
    put("checksum", s(&f.checksum));
    put("min_disk", n(&f.min_disk));
    put("min_ram", n(&f.min_ram));
    put("is_public", b(&f.is_public));
    put("protected", b(&f.protected));
    put("owner", s(&f.owner));
    put("location", s(&f.location));
    if !f.properties.is_empty() {
        let props: Map<String, Value> = f
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        m.insert("properties".into(), Value::Object(props));
    }
    m
}

/// The body of `PUT /images/<id>`.
fn update_body(a: &UpdateArgs) -> Result<Value, Failure> {
    let mut image = fields_json(&a.fields);
    for field in &a.unset {
        if image.contains_key(field) {
            return Err(Failure::usage(format!(
                "--unset {field} and --{} cannot be given together",
                field.replace('_', "-")
            )));
        }
        image.insert(field.clone(), Value::Null);
    }
    if image.is_empty() && !a.purge_props && a.from_state.is_none() {
        return Err(Failure::usage(
            "nothing to update: give a field (--name, --status, ...), --property, --unset or \
             --purge-props",
        ));
    }
    let mut body = json!({ "image": image });
    if let Some(state) = &a.from_state {
        body["from_state"] = Value::String(state.clone());
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ClientCli {
        ClientCli::try_parse_from(std::iter::once("glimpse").chain(args.iter().copied()))
            .expect("parses")
    }

    #[test]
    fn list_flags_become_api_parameters() {
        let cli = parse(&[
            "image",
            "list",
            "--name",
            "n",
            "--size-min",
            "5",
            "--protected",
            "false",
            "--changes-since",
            "2011-01-01T00:00:00Z",
            "--property",
            "os=linux",
            "--is-public",
            "none",
            "--sort-key",
            "name",
            "--sort-dir",
            "asc",
            "--limit",
            "2",
        ]);
        let ClientCommand::Image(ImageCommand::List(a)) = cli.command else {
            panic!("not a list")
        };
        let q = list_query(&a);
        let get = |k: &str| q.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str());
        assert_eq!(get("name"), Some("n"));
        assert_eq!(get("size_min"), Some("5"));
        assert_eq!(get("protected"), Some("false"));
        assert_eq!(get("changes-since"), Some("2011-01-01T00:00:00Z"));
        assert_eq!(get("property-os"), Some("linux"));
        assert_eq!(get("is_public"), Some("none"));
        assert_eq!(get("sort_key"), Some("name"));
        assert_eq!(get("sort_dir"), Some("asc"));
        assert_eq!(get("limit"), Some("2"));
    }

    #[test]
    fn update_body_has_fields_nulls_and_from_state() {
        let cli = parse(&[
            "image",
            "update",
            "x",
            "--name",
            "n",
            "--unset",
            "checksum",
            "--property",
            "a=b=c",
            "--from-state",
            "queued",
            "--is-public",
            "yes",
        ]);
        let ClientCommand::Image(ImageCommand::Update(a)) = cli.command else {
            panic!("not an update")
        };
        assert_eq!(
            update_body(&a).unwrap(),
            json!({"image": {"name": "n", "checksum": null, "is_public": true,
                             "properties": {"a": "b=c"}}, "from_state": "queued"})
        );
    }

    #[test]
    fn unset_and_set_of_one_field_is_a_usage_error() {
        let cli = parse(&["image", "update", "x", "--name", "n", "--unset", "name"]);
        let ClientCommand::Image(ImageCommand::Update(a)) = cli.command else {
            panic!("not an update")
        };
        assert_eq!(update_body(&a).unwrap_err().code, exit::USAGE);
        let cli = parse(&["image", "update", "x"]);
        let ClientCommand::Image(ImageCommand::Update(a)) = cli.command else {
            panic!("not an update")
        };
        assert_eq!(update_body(&a).unwrap_err().code, exit::USAGE);
    }

    #[test]
    fn memberships_parse() {
        assert_eq!(args::parse_membership("t1"), Ok(("t1".into(), false)));
        assert_eq!(
            args::parse_membership("t1:can_share"),
            Ok(("t1".into(), true))
        );
        assert_eq!(args::parse_membership("t1:false"), Ok(("t1".into(), false)));
        assert!(args::parse_membership("t1:maybe").is_err());
        assert!(args::parse_membership(":true").is_err());
        assert!(args::parse_property("novalue").is_err());
        assert_eq!(args::parse_property("k="), Ok(("k".into(), String::new())));
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = parse(&["image", "list", "--url", "http://h:1/reg", "--token", "t"]);
        assert_eq!(cli.options.url.as_str(), "http://h:1/reg");
        assert_eq!(cli.options.token.as_deref(), Some("t"));
    }
}
