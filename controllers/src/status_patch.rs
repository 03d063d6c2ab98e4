//! Status writes: a JSON merge patch of an object's `/status`, where an object deleted in the
//! meantime counts as done (there is nothing left to report on).

use std::fmt::Debug;

use kube::api::{Patch, PatchParams};
use kube::Api;
use serde::de::DeserializeOwned;

use crate::ControllerError;

/// Merges `patch` (`{"status": …}`) into object `name`'s status.
pub async fn merge<K>(
    api: &Api<K>,
    name: &str,
    patch: serde_json::Value,
) -> Result<(), ControllerError>
where
    K: Clone + DeserializeOwned + Debug,
{
    match api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
