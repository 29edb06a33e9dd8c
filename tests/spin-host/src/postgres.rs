//! `spin:postgres/postgres@3.0.0` as Spin serves it (factor-outbound-pg, 3.6.3 and 4.0.2):
//! `open` takes a connection from the host's pool for the address the component gives, if
//! `allowed_outbound_hosts` admits its host and port (tokio-postgres, no TLS, as for a
//! local server); each statement runs on that connection, parameters and columns
//! converted as Spin converts them; the connection goes back to the pool when the
//! component drops its handle. On 4.0.2, a `query` that yields no rows is recorded as the
//! hang it is there (see [`PostgresClients::hung_queries`]).

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use wasmtime::component::Resource;

use crate::postgres_bindings::spin::postgres::postgres as pg;
use crate::{InstanceState, SpinRelease};

/// Spin's pool size per address (`CONNECTION_POOL_SIZE` in factor-outbound-pg, 3.6.3 and
/// 4.0.2 alike).
const CONNECTION_POOL_SIZE: usize = 64;

/// The PostgreSQL clients of one host, as Spin's `PooledTokioClientFactory` keeps them: a
/// deadpool per address, connections recycled with `RecyclingMethod::Clean`, shared by
/// every instance. And what a test must hear of: the statements whose `query` would never
/// have returned on the release this host stands for.
pub struct PostgresClients {
    release: SpinRelease,
    pools: Mutex<HashMap<String, deadpool_postgres::Pool>>,
    hung: Mutex<Vec<String>>,
}

impl PostgresClients {
    pub fn new(release: SpinRelease) -> Self {
        Self {
            release,
            pools: Mutex::default(),
            hung: Mutex::default(),
        }
    }

    /// The statements sent through `query` that yielded no rows, on a release where such
    /// a `query` never returns (Spin 4.0.0-4.0.2, spinframework/spin#3671). The host
    /// answers them with an error instead of hanging, so that no test hangs; a test fails
    /// when this is not empty, whatever the component made of the error.
    pub fn hung_queries(&self) -> Vec<String> {
        self.hung
            .lock()
            .map(|hung| hung.clone())
            .unwrap_or_default()
    }

    /// A `query` without parameters, as a component's reaches this host: the number of
    /// rows, or the error the component would get.
    pub async fn query(&self, address: &str, statement: &str) -> Result<usize, String> {
        let client = self.client(address).await.map_err(|e| format!("{e:?}"))?;
        self.run_query(&client, statement.to_owned(), Vec::new())
            .await
            .map(|rows| rows.rows.len())
            .map_err(|error| format!("{error:?}"))
    }

    /// Spin's `query` on `client`, as the release this host stands for runs it.
    async fn run_query(
        &self,
        client: &tokio_postgres::Client,
        statement: String,
        params: Vec<pg::ParameterValue>,
    ) -> Result<pg::RowSet, pg::Error> {
        let params = parameters(params)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
        let rows = client
            .query(&statement, &refs)
            .await
            .map_err(|error| pg::Error::QueryFailed(describe(&error)))?;
        if rows.is_empty() && self.release == SpinRelease::V4_0_2 {
            // Spin 4.0.2 waits here forever for the columns of a first row.
            eprintln!(
                "spin-host: a query yielded no rows; on Spin 4.0.2 it never returns: {statement}"
            );
            if let Ok(mut hung) = self.hung.lock() {
                hung.push(statement);
            }
            return Err(pg::Error::Other(
                "spin-host: this query would never have returned on Spin 4.0.2 (spin#3671)".into(),
            ));
        }
        let columns = match rows.first() {
            Some(row) => row
                .columns()
                .iter()
                .map(|column| pg::Column {
                    name: column.name().to_owned(),
                    data_type: data_type(column.type_()),
                })
                .collect(),
            None => Vec::new(),
        };
        let rows = rows
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|index| value(row, index))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(pg::RowSet { columns, rows })
    }

    async fn client(&self, address: &str) -> Result<deadpool_postgres::Object, pg::Error> {
        let pool = {
            let mut pools = self
                .pools
                .lock()
                .map_err(|_| pg::Error::Other("pool lock poisoned".into()))?;
            match pools.get(address) {
                Some(pool) => pool.clone(),
                None => {
                    let pool = create_pool(address)
                        .map_err(|error| pg::Error::ConnectionFailed(format!("{error:?}")))?;
                    pools.insert(address.to_owned(), pool.clone());
                    pool
                }
            }
        };
        pool.get()
            .await
            .map_err(|error| pg::Error::ConnectionFailed(format!("{error:?}")))
    }
}

fn create_pool(address: &str) -> anyhow::Result<deadpool_postgres::Pool> {
    let config = address.parse::<tokio_postgres::Config>()?;
    let manager = deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Clean,
        },
    );
    Ok(deadpool_postgres::Pool::builder(manager)
        .max_size(CONNECTION_POOL_SIZE)
        .build()?)
}

/// An open connection: a client taken from the pool, back in it when dropped.
pub struct PgConnection {
    client: deadpool_postgres::Object,
}

impl pg::Host for InstanceState {}

impl InstanceState {
    fn client(
        &self,
        connection: &Resource<PgConnection>,
    ) -> Result<&tokio_postgres::Client, pg::Error> {
        self.table
            .get(connection)
            .map(|connection| &**connection.client)
            .map_err(|error| pg::Error::Other(error.to_string()))
    }
}

impl pg::HostConnection for InstanceState {
    async fn open(&mut self, address: String) -> Result<Resource<PgConnection>, pg::Error> {
        // As Spin: only to a host the manifest's allowed_outbound_hosts names.
        if !self.allowed_outbound_hosts.admits_postgres(&address) {
            return Err(pg::Error::ConnectionFailed(format!(
                "address {address} is not permitted"
            )));
        }
        let client = self.postgres.client(&address).await?;
        self.table
            .push(PgConnection { client })
            .map_err(|error| pg::Error::Other(error.to_string()))
    }

    async fn query(
        &mut self,
        connection: Resource<PgConnection>,
        statement: String,
        params: Vec<pg::ParameterValue>,
    ) -> Result<pg::RowSet, pg::Error> {
        let client = self.client(&connection)?;
        self.postgres.run_query(client, statement, params).await
    }

    async fn execute(
        &mut self,
        connection: Resource<PgConnection>,
        statement: String,
        params: Vec<pg::ParameterValue>,
    ) -> Result<u64, pg::Error> {
        let client = self.client(&connection)?;
        let params = parameters(params)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
        client
            .execute(&statement, &refs)
            .await
            .map_err(|error| pg::Error::QueryFailed(describe(&error)))
    }

    async fn drop(&mut self, connection: Resource<PgConnection>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

/// The server's own message where there is one, as Spin passes it on.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => error.to_string(),
    }
}

type Parameter = Box<dyn ToSql + Sync + Send>;

fn parameters(params: Vec<pg::ParameterValue>) -> Result<Vec<Parameter>, pg::Error> {
    params
        .into_iter()
        .map(|param| -> Result<Parameter, pg::Error> {
            Ok(match param {
                pg::ParameterValue::Boolean(flag) => Box::new(flag),
                pg::ParameterValue::Int8(number) => Box::new(number),
                pg::ParameterValue::Int16(number) => Box::new(number),
                pg::ParameterValue::Int32(number) => Box::new(number),
                pg::ParameterValue::Int64(number) => Box::new(number),
                pg::ParameterValue::Floating32(number) => Box::new(number),
                pg::ParameterValue::Floating64(number) => Box::new(number),
                pg::ParameterValue::Str(text) => Box::new(text),
                pg::ParameterValue::Binary(bytes) => Box::new(bytes),
                pg::ParameterValue::DbNull => Box::new(Null),
                other => {
                    return Err(pg::Error::BadParameter(format!(
                        "{other:?} is not served by this host"
                    )));
                }
            })
        })
        .collect()
}

/// SQL NULL for a parameter of any type, as Spin binds `db-null`.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn data_type(kind: &Type) -> pg::DbDataType {
    match *kind {
        Type::BOOL => pg::DbDataType::Boolean,
        Type::CHAR => pg::DbDataType::Int8,
        Type::INT2 => pg::DbDataType::Int16,
        Type::INT4 => pg::DbDataType::Int32,
        Type::INT8 => pg::DbDataType::Int64,
        Type::FLOAT4 => pg::DbDataType::Floating32,
        Type::FLOAT8 => pg::DbDataType::Floating64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => pg::DbDataType::Str,
        Type::BYTEA => pg::DbDataType::Binary,
        _ => pg::DbDataType::Other,
    }
}

fn value(row: &tokio_postgres::Row, index: usize) -> Result<pg::DbValue, pg::Error> {
    fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
        row: &'a tokio_postgres::Row,
        index: usize,
        wrap: impl FnOnce(T) -> pg::DbValue,
    ) -> Result<pg::DbValue, pg::Error> {
        match row.try_get::<_, Option<T>>(index) {
            Ok(Some(value)) => Ok(wrap(value)),
            Ok(None) => Ok(pg::DbValue::DbNull),
            Err(error) => Err(pg::Error::ValueConversionFailed(error.to_string())),
        }
    }
    match *row.columns()[index].type_() {
        Type::BOOL => get(row, index, pg::DbValue::Boolean),
        Type::INT2 => get(row, index, pg::DbValue::Int16),
        Type::INT4 => get(row, index, pg::DbValue::Int32),
        Type::INT8 => get(row, index, pg::DbValue::Int64),
        Type::FLOAT4 => get(row, index, pg::DbValue::Floating32),
        Type::FLOAT8 => get(row, index, pg::DbValue::Floating64),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => get(row, index, pg::DbValue::Str),
        Type::BYTEA => get(row, index, pg::DbValue::Binary),
        _ => Ok(pg::DbValue::Unsupported),
    }
}
