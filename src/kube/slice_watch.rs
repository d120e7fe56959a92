//! The EndpointSlices of one Service as a watched resource: the namespaced
//! collection `/apis/discovery.k8s.io/v1/namespaces/NS/endpointslices`
//! selected by the label `kubernetes.io/service-name=NAME`, published as a
//! [`SliceState`] (slices by name). RBAC needs only list and watch on
//! endpointslices in that namespace; there is no polling fallback (a GET
//! of a collection is a list), so a 403 is published as the reason.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::endpoint_slice::{EndpointSlice, SERVICE_NAME_LABEL};
use super::protocol::encode_query;
use super::resource::{ApiState, Resource};
use super::{Liveness, cannot_tell};
use crate::config::ServiceRef;

/// What the API last said about one Service's EndpointSlices.
#[derive(Debug, Clone)]
pub struct SliceState {
    pub service: ServiceRef,
    /// Slices by name; `None` until the first list answered.
    pub slices: Option<BTreeMap<String, Arc<EndpointSlice>>>,
    /// Last moment the API answered (as [`super::NodeState::confirmed_at`]).
    pub confirmed_at: Option<Instant>,
    pub last_error: Option<String>,
    pub no_credentials: Option<String>,
    /// RBAC forbids list or watch: the reason to show, until a list succeeds.
    pub forbidden: Option<String>,
}

impl SliceState {
    pub fn new(service: &ServiceRef) -> SliceState {
        SliceState {
            service: service.clone(),
            slices: None,
            confirmed_at: None,
            last_error: None,
            no_credentials: None,
            forbidden: None,
        }
    }

    /// The outage policy of the Node's (`kube::usable_node`) for slices:
    /// the slices to judge, or why the state cannot be told (no
    /// credentials, RBAC, stale, never listed). An empty map is a definite
    /// answer: no EndpointSlice.
    pub fn usable(
        &self,
        max_staleness: Option<Duration>,
        now: Instant,
    ) -> Result<&BTreeMap<String, Arc<EndpointSlice>>, String> {
        if let Some(why) = &self.forbidden
            && self.no_credentials.is_none()
        {
            return Err(why.clone());
        }
        let live = Liveness {
            what: "endpoint",
            no_credentials: self.no_credentials.as_deref(),
            confirmed_at: self.confirmed_at,
            last_error: self.last_error.as_deref(),
            known: self.slices.is_some(),
        };
        if let Some(why) = cannot_tell(&live, max_staleness, now) {
            return Err(why);
        }
        Ok(self.slices.as_ref().expect("known"))
    }

    /// Answered at least once (or can never be: no credentials, RBAC).
    pub fn settled(&self) -> bool {
        self.slices.is_some() || self.no_credentials.is_some() || self.forbidden.is_some()
    }
}

impl ApiState for SliceState {
    fn mark_live(&mut self, now: Instant) {
        self.confirmed_at = Some(now);
        self.last_error = None;
    }

    fn set_error(&mut self, why: String) {
        self.last_error = Some(why);
    }

    fn set_no_credentials(&mut self, why: Option<String>) {
        self.no_credentials = why;
    }

    fn confirmed_at(&self) -> Option<Instant> {
        self.confirmed_at
    }
}

pub struct SliceResource {
    service: ServiceRef,
    describe: String,
    collection: String,
}

impl SliceResource {
    pub fn new(service: &ServiceRef) -> SliceResource {
        let selector = encode_query(&format!("{SERVICE_NAME_LABEL}={}", service.name));
        SliceResource {
            service: service.clone(),
            describe: format!("endpointslices of {service}"),
            collection: format!(
                "/apis/discovery.k8s.io/v1/namespaces/{}/endpointslices?labelSelector={selector}",
                service.namespace
            ),
        }
    }
}

impl Resource for SliceResource {
    type Object = EndpointSlice;
    type State = SliceState;

    fn describe(&self) -> &str {
        &self.describe
    }

    fn plural(&self) -> &'static str {
        "endpointslices"
    }

    fn collection(&self) -> &str {
        &self.collection
    }

    fn decode(&self, v: serde_json::Value) -> Result<EndpointSlice, String> {
        EndpointSlice::from_json(v)
    }

    fn resource_version(obj: &EndpointSlice) -> &str {
        &obj.metadata.resource_version
    }

    fn wanted(&self, obj: &EndpointSlice) -> bool {
        obj.service_name() == Some(self.service.name.as_str())
            && (obj.metadata.namespace.is_empty() || obj.metadata.namespace == self.service.namespace)
    }

    fn replace(&self, state: &mut SliceState, items: Vec<Arc<EndpointSlice>>) {
        state.slices = Some(items.into_iter().map(|s| (s.metadata.name.clone(), s)).collect());
        state.forbidden = None;
    }

    fn upsert(&self, state: &mut SliceState, obj: Arc<EndpointSlice>) {
        state.slices.get_or_insert_default().insert(obj.metadata.name.clone(), obj);
    }

    fn remove(&self, state: &mut SliceState, obj: &EndpointSlice) {
        if let Some(slices) = &mut state.slices {
            slices.remove(&obj.metadata.name);
        }
    }

    fn forbid(&self, state: &mut SliceState, verb: &str) {
        state.forbidden = Some(format!(
            "cannot {verb} endpointslices.discovery.k8s.io in namespace {:?} (RBAC)",
            self.service.namespace
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc() -> ServiceRef {
        ServiceRef { namespace: "openshift-ingress".into(), name: "router-default".into() }
    }

    #[test]
    fn the_collection_is_namespaced_and_label_selected() {
        assert_eq!(
            SliceResource::new(&svc()).collection(),
            "/apis/discovery.k8s.io/v1/namespaces/openshift-ingress/endpointslices\
             ?labelSelector=kubernetes.io%2Fservice-name%3Drouter-default"
        );
    }

    #[test]
    fn outage_policy_like_the_nodes() {
        let now = Instant::now() + Duration::from_secs(1000);
        let mut s = SliceState::new(&svc());
        s.last_error = Some("connection refused".into());
        assert_eq!(s.usable(None, now).unwrap_err(), "endpoint state unknown: connection refused");
        s.slices = Some(BTreeMap::new());
        s.confirmed_at = Some(now - Duration::from_secs(3600));
        assert!(s.usable(None, now).is_ok(), "no limit: the last known state is kept");
        assert_eq!(
            s.usable(Some(Duration::from_secs(60)), now).unwrap_err(),
            "endpoint state stale for 3600s: connection refused"
        );
        SliceResource::new(&svc()).forbid(&mut s, "list");
        assert_eq!(
            s.usable(None, now).unwrap_err(),
            "cannot list endpointslices.discovery.k8s.io in namespace \"openshift-ingress\" (RBAC)"
        );
        s.no_credentials = Some("KUBECONFIG is not set".into());
        assert_eq!(s.usable(None, now).unwrap_err(), "no Kubernetes credentials: KUBECONFIG is not set");
    }
}
