//! The suite against Postgres (`DATABASE_URL`), each test in a fresh schema.

use crate::fixtures::postgres_fixture;

crate::store_behaviours!(postgres_fixture);
