//! Ping extension payloads (`specs/portal-network-specs/ping-extensions/`).

use super::WireError;
use alloy_primitives::{Bytes, U256};
use ssz::{Decode, Encode};
use ssz_derive::{Decode, Encode};

/// Largest `client_info` of a type-0 payload.
pub const MAX_CLIENT_INFO_BYTES: usize = 200;
/// Most capabilities in a type-0 payload.
pub const MAX_CAPABILITIES: usize = 400;
/// Largest error message of a type-65535 payload.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 300;

/// Error codes of the type-65535 payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum PingError {
    /// 0: the extension asked for is not supported.
    ExtensionNotSupported = 0,
    /// 1: the data needed for the response is not available.
    DataNotFound = 1,
    /// 2: the ping's payload did not decode.
    FailedToDecodePayload = 2,
    /// 3: a critical error; the ping cannot be processed.
    SystemError = 3,
}

/// A decoded ping extension payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingExtension {
    /// Type 0, sent on first contact: who we are, our radius, which extensions we speak.
    Capabilities {
        /// Free-form client name and version, e.g. `portal-state/0.1.0/linux-x86_64/rustc1.95`.
        client_info: Bytes,
        /// The sender's data radius.
        data_radius: U256,
        /// The extension types the sender supports.
        capabilities: Vec<u16>,
    },
    /// Type 1: the radius alone, used once capabilities are known.
    BasicRadius {
        /// The sender's data radius.
        data_radius: U256,
    },
    /// Type 2 (legacy history network): radius and ephemeral header count.
    HistoryRadius {
        /// The sender's data radius.
        data_radius: U256,
        /// How many ephemeral headers the sender holds.
        ephemeral_header_count: u16,
    },
    /// Type 65535, in a Pong only: the ping could not be answered.
    Error {
        /// A code of [`PingError`], or another value from a newer peer.
        error_code: u16,
        /// Human-readable detail.
        message: Bytes,
    },
}

#[derive(Encode, Decode)]
struct CapabilitiesSsz {
    client_info: Bytes,
    data_radius: U256,
    capabilities: Vec<u16>,
}

#[derive(Encode, Decode)]
struct BasicRadiusSsz {
    data_radius: U256,
}

#[derive(Encode, Decode)]
struct HistoryRadiusSsz {
    data_radius: U256,
    ephemeral_header_count: u16,
}

#[derive(Encode, Decode)]
struct ErrorSsz {
    error_code: u16,
    message: Bytes,
}

impl PingExtension {
    /// Type 0.
    pub const CAPABILITIES: u16 = 0;
    /// Type 1.
    pub const BASIC_RADIUS: u16 = 1;
    /// Type 2.
    pub const HISTORY_RADIUS: u16 = 2;
    /// Type 65535.
    pub const ERROR: u16 = 65535;

    /// The payload type number.
    pub fn payload_type(&self) -> u16 {
        match self {
            PingExtension::Capabilities { .. } => Self::CAPABILITIES,
            PingExtension::BasicRadius { .. } => Self::BASIC_RADIUS,
            PingExtension::HistoryRadius { .. } => Self::HISTORY_RADIUS,
            PingExtension::Error { .. } => Self::ERROR,
        }
    }

    /// The sender's radius, if this payload carries one.
    pub fn data_radius(&self) -> Option<U256> {
        match self {
            PingExtension::Capabilities { data_radius, .. }
            | PingExtension::BasicRadius { data_radius }
            | PingExtension::HistoryRadius { data_radius, .. } => Some(*data_radius),
            PingExtension::Error { .. } => None,
        }
    }

    /// An error payload with one of the standard codes.
    pub fn error(code: PingError, message: &str) -> Self {
        let mut message = message.as_bytes().to_vec();
        message.truncate(MAX_ERROR_MESSAGE_BYTES);
        PingExtension::Error {
            error_code: code as u16,
            message: message.into(),
        }
    }

    /// The SSZ payload bytes (the `payload` field of Ping/Pong).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            PingExtension::Capabilities {
                client_info,
                data_radius,
                capabilities,
            } => CapabilitiesSsz {
                client_info: client_info.clone(),
                data_radius: *data_radius,
                capabilities: capabilities.clone(),
            }
            .as_ssz_bytes(),
            PingExtension::BasicRadius { data_radius } => BasicRadiusSsz {
                data_radius: *data_radius,
            }
            .as_ssz_bytes(),
            PingExtension::HistoryRadius {
                data_radius,
                ephemeral_header_count,
            } => HistoryRadiusSsz {
                data_radius: *data_radius,
                ephemeral_header_count: *ephemeral_header_count,
            }
            .as_ssz_bytes(),
            PingExtension::Error {
                error_code,
                message,
            } => ErrorSsz {
                error_code: *error_code,
                message: message.clone(),
            }
            .as_ssz_bytes(),
        }
    }

    /// Decode the payload of type `payload_type`. An unknown type is an error the caller answers
    /// with [`PingError::ExtensionNotSupported`].
    pub fn decode(payload_type: u16, payload: &[u8]) -> Result<Self, WireError> {
        let bad = |e: ssz::DecodeError| WireError::InvalidPingPayload(format!("{e:?}"));
        let over = |what: &str, len: usize, max: usize| {
            WireError::InvalidPingPayload(format!("{what} has {len} entries, at most {max}"))
        };
        match payload_type {
            Self::CAPABILITIES => {
                let v = CapabilitiesSsz::from_ssz_bytes(payload).map_err(bad)?;
                if v.client_info.len() > MAX_CLIENT_INFO_BYTES {
                    return Err(over(
                        "client_info",
                        v.client_info.len(),
                        MAX_CLIENT_INFO_BYTES,
                    ));
                }
                if v.capabilities.len() > MAX_CAPABILITIES {
                    return Err(over("capabilities", v.capabilities.len(), MAX_CAPABILITIES));
                }
                Ok(PingExtension::Capabilities {
                    client_info: v.client_info,
                    data_radius: v.data_radius,
                    capabilities: v.capabilities,
                })
            }
            Self::BASIC_RADIUS => {
                let v = BasicRadiusSsz::from_ssz_bytes(payload).map_err(bad)?;
                Ok(PingExtension::BasicRadius {
                    data_radius: v.data_radius,
                })
            }
            Self::HISTORY_RADIUS => {
                let v = HistoryRadiusSsz::from_ssz_bytes(payload).map_err(bad)?;
                Ok(PingExtension::HistoryRadius {
                    data_radius: v.data_radius,
                    ephemeral_header_count: v.ephemeral_header_count,
                })
            }
            Self::ERROR => {
                let v = ErrorSsz::from_ssz_bytes(payload).map_err(bad)?;
                if v.message.len() > MAX_ERROR_MESSAGE_BYTES {
                    return Err(over("message", v.message.len(), MAX_ERROR_MESSAGE_BYTES));
                }
                Ok(PingExtension::Error {
                    error_code: v.error_code,
                    message: v.message,
                })
            }
            other => Err(WireError::InvalidPingPayload(format!(
                "unsupported payload type {other}"
            ))),
        }
    }
}
