//! The client's command line: global options and subcommands (clap derive).

use clap::builder::{BoolishValueParser, PossibleValuesParser};
use clap::{Args, Subcommand};
use url::Url;

/// Where the registry is and who the caller is. Flattened into the top-level command line;
/// every option also reads an environment variable.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Registry options")]
pub struct ClientOptions {
    /// Base URL of the registry the client commands talk to.
    #[arg(
        long,
        env = "GLIMPSE_URL",
        default_value = "http://127.0.0.1:9191",
        value_parser = parse_base_url,
        global = true,
        value_name = "URL"
    )]
    pub url: Url,

    /// Token of a caller authenticated by a front end (sent as X-Auth-Token with
    /// X-Identity-Status: Confirmed). Without it the registry treats the client as its no-token
    /// admin, and --tenant, --user and --roles are not sent.
    #[arg(
        long,
        env = "GLIMPSE_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// Tenant (project) of the caller, sent as X-Tenant-Id with --token.
    #[arg(long, env = "GLIMPSE_TENANT", global = true, value_name = "TENANT")]
    pub tenant: Option<String>,

    /// Comma-separated roles of the caller, sent as X-Roles with --token (`admin` makes an admin).
    #[arg(long, env = "GLIMPSE_ROLES", global = true, value_name = "ROLES")]
    pub roles: Option<String>,

    /// User id of the caller, sent as X-User-Id with --token.
    #[arg(long, env = "GLIMPSE_USER", global = true, value_name = "USER")]
    pub user: Option<String>,

    /// Seconds to wait for each request to the registry.
    #[arg(
        long,
        env = "GLIMPSE_TIMEOUT",
        default_value_t = 30.0,
        value_parser = parse_timeout,
        global = true,
        value_name = "SECONDS"
    )]
    pub timeout: f64,
}

/// The client commands of `glimpse`.
#[derive(Debug, Clone, Subcommand)]
pub enum ClientCommand {
    /// List, show, register, update and delete images (client of a running registry).
    #[command(subcommand)]
    Image(ImageCommand),
    /// List and change who an image is shared with (client of a running registry).
    #[command(subcommand)]
    Member(MemberCommand),
    /// List the images shared with a tenant (client of a running registry).
    Shared(SharedArgs),
}

#[derive(Debug, Clone, Subcommand)]
pub enum ImageCommand {
    /// List the images the caller can see, as a table or JSON.
    List(Box<ListArgs>),
    /// Show one image with its properties.
    Show(ShowArgs),
    /// Register a new image.
    Create(Box<CreateArgs>),
    /// Change some fields or properties of an image.
    Update(Box<UpdateArgs>),
    /// Delete an image (the registry soft-deletes it).
    Delete(DeleteArgs),
}

#[derive(Debug, Clone, Subcommand)]
pub enum MemberCommand {
    /// List the tenants an image is shared with.
    List(MemberListArgs),
    /// Share an image with one more tenant, or change whether it may share further.
    Add(MemberAddArgs),
    /// Stop sharing an image with a tenant.
    Remove(MemberRemoveArgs),
    /// Replace all memberships of an image with the given ones.
    Replace(MemberReplaceArgs),
}

/// Filters, order and paging of `image list`, named after the API's query parameters.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only images with exactly this name.
    #[arg(long)]
    pub name: Option<String>,
    /// Only images with this status (queued, saving, active, killed, ...).
    #[arg(long)]
    pub status: Option<String>,
    /// Only images with this disk format.
    #[arg(long)]
    pub disk_format: Option<String>,
    /// Only images with this container format.
    #[arg(long)]
    pub container_format: Option<String>,
    /// Only images of at least this many bytes.
    #[arg(long, value_name = "BYTES")]
    pub size_min: Option<u64>,
    /// Only images of at most this many bytes.
    #[arg(long, value_name = "BYTES")]
    pub size_max: Option<u64>,
    /// Only images whose min_ram is exactly this.
    #[arg(long, value_name = "MB")]
    pub min_ram: Option<u64>,
    /// Only images whose min_disk is exactly this.
    #[arg(long, value_name = "GB")]
    pub min_disk: Option<u64>,
    /// Only protected (true) or unprotected (false) images.
    #[arg(long, value_parser = BoolishValueParser::new(), value_name = "BOOL")]
    pub protected: Option<bool>,
    /// Only images changed after this ISO 8601 time, deleted ones included.
    #[arg(long, value_name = "TIME")]
    pub changes_since: Option<String>,
    /// Only images with this custom property (repeatable).
    #[arg(long = "property", value_parser = parse_property, value_name = "KEY=VALUE")]
    pub properties: Vec<(String, String)>,
    /// Admins: true (public, own and shared), false (only non-public) or none (all).
    #[arg(long, value_parser = PossibleValuesParser::new(["true", "false", "none"]))]
    pub is_public: Option<String>,
    /// Admins: list only deleted (true) or only not deleted (false) images.
    #[arg(long, value_parser = BoolishValueParser::new(), value_name = "BOOL")]
    pub deleted: Option<bool>,
    /// Sort by this field (default created_at).
    #[arg(long, value_parser = PossibleValuesParser::new([
        "id", "name", "status", "disk_format", "container_format", "size", "created_at",
        "updated_at",
    ]))]
    pub sort_key: Option<String>,
    /// Sort direction (default desc).
    #[arg(long, value_parser = PossibleValuesParser::new(["asc", "desc"]))]
    pub sort_dir: Option<String>,
    /// Images per page (the registry caps it).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Start after this image id.
    #[arg(long, value_name = "ID")]
    pub marker: Option<String>,
    /// Follow the pages until the last one and print all images.
    #[arg(long)]
    pub all: bool,
    /// Print JSON (`{"images": [...]}`, detailed images) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// Image id.
    pub id: String,
    /// Print the registry's JSON (`{"image": {...}}`) instead of a table.
    #[arg(long, conflicts_with = "etag")]
    pub json: bool,
    /// Print only the image's ETag (for `image update --if-match`).
    #[arg(long)]
    pub etag: bool,
}

/// The image fields that `create` and `update` can set.
#[derive(Debug, Clone, Default, Args)]
pub struct ImageFields {
    /// Name of the image (up to 255 characters).
    #[arg(long)]
    pub name: Option<String>,
    /// Status: queued, saving, active, killed, pending_delete, deleted, ...
    #[arg(long)]
    pub status: Option<String>,
    /// Disk format: ami ari aki vhd vhdx vmdk raw qcow2 vdi iso ploop.
    #[arg(long)]
    pub disk_format: Option<String>,
    /// Container format: ami ari aki bare ovf ova docker compressed.
    #[arg(long)]
    pub container_format: Option<String>,
    /// Size of the image data in bytes.
    #[arg(long, value_name = "BYTES")]
    pub size: Option<u64>,
    /// Size of the disk the image expands to, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub virtual_size: Option<u64>,
    /// MD5 hex digest of the image data.
    #[arg(long)]
    pub checksum: Option<String>,
    /// Disk space the image needs to boot, in GB.
    #[arg(long, value_name = "GB")]
    pub min_disk: Option<u64>,
    /// RAM the image needs to boot, in MB.
    #[arg(long, value_name = "MB")]
    pub min_ram: Option<u64>,
    /// Whether every tenant can see the image.
    #[arg(long, value_parser = BoolishValueParser::new(), value_name = "BOOL")]
    pub is_public: Option<bool>,
    /// Whether the image is protected from deletion.
    #[arg(long, value_parser = BoolishValueParser::new(), value_name = "BOOL")]
    pub protected: Option<bool>,
    /// Owner tenant (admins only; ignored for others).
    #[arg(long)]
    pub owner: Option<String>,
    /// Where the image data lives (a store URL).
    #[arg(long, value_name = "URL")]
    pub location: Option<String>,
    /// A custom property (repeatable).
    #[arg(long = "property", value_parser = parse_property, value_name = "KEY=VALUE")]
    pub properties: Vec<(String, String)>,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// Id of the new image (a UUID); generated by the registry if absent.
    #[arg(long)]
    pub id: Option<String>,
    #[command(flatten)]
    pub fields: ImageFields,
    /// Print the registry's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The nullable fields `image update --unset` can clear (min_disk and min_ram go back to 0).
pub const UNSETTABLE: [&str; 10] = [
    "name",
    "disk_format",
    "container_format",
    "size",
    "virtual_size",
    "checksum",
    "owner",
    "location",
    "min_disk",
    "min_ram",
];

#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// Image id.
    pub id: String,
    #[command(flatten)]
    pub fields: ImageFields,
    /// Clear a field (send it as null; repeatable).
    #[arg(long, value_parser = PossibleValuesParser::new(UNSETTABLE), value_name = "FIELD")]
    pub unset: Vec<String>,
    /// Replace all properties with the given --property ones (none given: remove them all).
    #[arg(long)]
    pub purge_props: bool,
    /// Update only if the image's status is this one (else exit 4).
    #[arg(long, value_name = "STATUS")]
    pub from_state: Option<String>,
    /// Update only if the image still has this ETag (else exit 4); see `image show --etag`.
    #[arg(long, value_name = "ETAG")]
    pub if_match: Option<String>,
    /// Print the registry's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DeleteArgs {
    /// Image id.
    pub id: String,
    /// Delete only if the image still has this ETag (else exit 4).
    #[arg(long, value_name = "ETAG")]
    pub if_match: Option<String>,
    /// Print the deleted image as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct MemberListArgs {
    /// Image id.
    pub image: String,
    /// Print the registry's JSON (`{"members": [...]}`) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct MemberAddArgs {
    /// Image id.
    pub image: String,
    /// Tenant to share the image with.
    pub member: String,
    /// Let the member share the image further (`--can-share false` takes it back); when
    /// absent, a new member cannot share and an existing one keeps what it had.
    #[arg(
        long,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new(),
        value_name = "BOOL"
    )]
    pub can_share: Option<bool>,
}

#[derive(Debug, Clone, Args)]
pub struct MemberRemoveArgs {
    /// Image id.
    pub image: String,
    /// Tenant to stop sharing with.
    pub member: String,
}

#[derive(Debug, Clone, Args)]
pub struct MemberReplaceArgs {
    /// Image id.
    pub image: String,
    /// The new members: TENANT, or TENANT:can_share (also TENANT:true / TENANT:false).
    #[arg(
        value_parser = parse_membership,
        value_name = "MEMBER[:can_share]",
        required_unless_present = "clear"
    )]
    pub members: Vec<(String, bool)>,
    /// Remove every membership (replace them with none).
    #[arg(long, conflicts_with = "members")]
    pub clear: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SharedArgs {
    /// Tenant whose shared images to list.
    // Its own id: `tenant` is the global --tenant option's, and clap would mix the two.
    #[arg(id = "shared_tenant", value_name = "TENANT")]
    pub tenant: String,
    /// Print the registry's JSON (`{"shared_images": [...]}`) instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_base_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err("the registry URL must be http://HOST[:PORT][/PATH]".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the registry URL cannot have a query or a fragment".into());
    }
    Ok(url)
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if t > 0.0 && t.is_finite() && t <= 86_400.0 => Ok(t),
        _ => Err("must be a number of seconds between 0 and 86400".into()),
    }
}

/// `KEY=VALUE`, split at the first `=`; the value may be empty, the key may not.
pub fn parse_property(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err("must be KEY=VALUE with a non-empty KEY".into()),
    }
}

/// `TENANT`, `TENANT:can_share`, `TENANT:true` or `TENANT:false`.
pub fn parse_membership(s: &str) -> Result<(String, bool), String> {
    let (member, can_share) = match s.rsplit_once(':') {
        None => (s, false),
        Some((m, flag)) => match flag.to_ascii_lowercase().as_str() {
            "can_share" | "true" => (m, true),
            "false" => (m, false),
            _ => {
                return Err(format!(
                    "the part after ':' must be can_share, true or false, not {flag:?}"
                ));
            }
        },
    };
    if member.is_empty() {
        return Err("the member (tenant) cannot be empty".into());
    }
    Ok((member.to_owned(), can_share))
}
