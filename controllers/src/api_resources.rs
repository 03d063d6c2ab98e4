//! The resources the API serves, as discovery lists them (each group's preferred version),
//! for the controllers that act on every kind: the garbage collector and the namespace
//! controller.

use kube::core::ApiResource;
use kube::discovery::{ApiCapabilities, Discovery};
use kube::Client;

use crate::ControllerError;

/// Every resource of every group, at the group's preferred version.
pub async fn discover(
    client: &Client,
) -> Result<Vec<(ApiResource, ApiCapabilities)>, ControllerError> {
    let discovery = Discovery::new(client.clone()).run().await?;
    Ok(discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .collect())
}
