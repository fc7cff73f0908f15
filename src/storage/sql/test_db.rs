//! The databases the storage unit tests run on, in one place: a fresh database per test on
//! the servers named by `GLIMPSE_TEST_POSTGRES_URL` and `GLIMPSE_TEST_MYSQL_URL` (an admin
//! connection URL; the defaults are the local test servers), or a SQLite file in a temporary
//! directory.

use sqlx::Connection;

fn admin_url(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// The admin URL of the PostgreSQL test server.
pub fn postgres_admin() -> String {
    admin_url(
        "GLIMPSE_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    )
}

/// The admin URL of the MySQL/MariaDB test server.
pub fn mysql_admin() -> String {
    admin_url("GLIMPSE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
}

/// `admin` with its database replaced by `name`.
fn with_database(admin: &str, name: &str) -> String {
    let Ok(mut url) = url::Url::parse(admin) else {
        panic!("not a URL: {admin}")
    };
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// A database created for one test; dropped by [`TestDb::drop_database`].
pub struct TestDb {
    pub url: String,
    admin: String,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

/// Runs `sql` on the server behind `admin_url`.
async fn admin_exec<C: Connection>(admin_url: &str, sql: String)
where
    for<'c> &'c mut C: sqlx::Executor<'c>,
{
    let Ok(mut c) = C::connect(admin_url).await else {
        panic!("the database server must be running for this test: {admin_url}")
    };
    let done = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut c)
        .await;
    assert!(done.is_ok(), "{:?}", done.err());
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        TestDb {
            url: format!("sqlite://{}", dir.path().join("glimpse.db").display()),
            admin: String::new(),
            name: String::new(),
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> TestDb {
        let admin = postgres_admin();
        let name = format!("glimpse_u_{}", uuid::Uuid::new_v4().simple());
        admin_exec::<sqlx::PgConnection>(&admin, format!("CREATE DATABASE {name}")).await;
        TestDb {
            url: with_database(&admin, &name),
            admin,
            name,
            _dir: None,
        }
    }

    pub async fn mysql() -> TestDb {
        let admin = mysql_admin();
        let name = format!("glimpse_u_{}", uuid::Uuid::new_v4().simple());
        admin_exec::<sqlx::MySqlConnection>(&admin, format!("CREATE DATABASE {name}")).await;
        TestDb {
            url: with_database(&admin, &name),
            admin,
            name,
            _dir: None,
        }
    }

    /// Drops a server database (a SQLite file goes with its directory).
    pub async fn drop_database(self) {
        if self.url.starts_with("postgres") {
            let sql = format!("DROP DATABASE {} WITH (FORCE)", self.name);
            admin_exec::<sqlx::PgConnection>(&self.admin, sql).await;
        } else if self.url.starts_with("mysql") {
            let sql = format!("DROP DATABASE {}", self.name);
            admin_exec::<sqlx::MySqlConnection>(&self.admin, sql).await;
        }
    }
}
