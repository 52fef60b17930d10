#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod connector;
mod error;
mod gate;
mod kite_state;
mod pool;
mod settings;
mod verification;

pub use connector::{Connector, EgressAssignment, KiteLoginCompleted};
pub use error::{BadState, ConnectorError, SettingsError};
pub use kite_state::MIN_STATE_KEY_BYTES;
pub use settings::{
    BrokerEndpointSettings, ConnectorSettings, EgressAddressSettings, EgressPoolSettings,
    EgressScope, HttpSettings,
};
pub use verification::{Verification, registration_instructions};
