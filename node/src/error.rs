//! The agent's errors.

/// Why the agent could not start or went on no further.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("the API refused or failed: {0}")]
    Api(#[from] kube::Error),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl NodeError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> NodeError {
        NodeError::Io {
            what: what.into(),
            source,
        }
    }
}
