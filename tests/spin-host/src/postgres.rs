//! `spin:postgres/postgres@3.0.0` as Spin serves it: `open` connects to the address the
//! component gives if `allowed_outbound_hosts` admits its host and port (tokio-postgres, no
//! TLS, as for a local server), and each statement runs
//! on that connection, parameters and columns converted as Spin's outbound-pg converts them.
//! The connection lives as long as the component's handle, as in Spin.

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use wasmtime::component::Resource;

use crate::InstanceState;
use crate::postgres_bindings::spin::postgres::postgres as pg;

/// An open connection: the client; its connection task runs on the runtime until dropped.
pub struct PgConnection {
    client: tokio_postgres::Client,
}

impl pg::Host for InstanceState {}

impl InstanceState {
    fn client(
        &self,
        connection: &Resource<PgConnection>,
    ) -> Result<&tokio_postgres::Client, pg::Error> {
        self.table
            .get(connection)
            .map(|connection| &connection.client)
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
        let (client, connection) = tokio_postgres::connect(&address, tokio_postgres::NoTls)
            .await
            .map_err(|error| pg::Error::ConnectionFailed(error.to_string()))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                eprintln!("spin-host: postgres connection ended: {error}");
            }
        });
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
        let params = parameters(params)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
        let rows = client
            .query(&statement, &refs)
            .await
            .map_err(|error| pg::Error::QueryFailed(describe(&error)))?;
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
