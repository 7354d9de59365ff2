//! Azure paths: `/openai/deployments/{d}/…` (needs `api-version`),
//! `/openai/v1/…`, and `/anthropic/v1/messages`.

use crate::call::{Call, Dialect, Reply};
use crate::{anthropic, openai};

pub(crate) fn route(call: &Call) -> Option<Reply> {
    if let Some(rest) = call.path.strip_prefix("/openai/deployments/") {
        let (deployment, rest) = rest.split_once('/')?;
        let versioned = call
            .query
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("api-version=")));
        if !versioned {
            return Some(
                Dialect::Azure.error(400, "Missing required query parameter: api-version"),
            );
        }
        return openai::route(call, &format!("/{rest}"), Some(deployment));
    }
    if let Some(rest) = call.path.strip_prefix("/openai/v1/") {
        return openai::route(call, &format!("/{rest}"), None);
    }
    anthropic::route(call, call.path.strip_prefix("/anthropic")?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Flavor;
    use serde_json::json;

    fn status(path: &str, query: Option<&str>) -> Option<u16> {
        let body = json!({"model": "m"});
        let call = Call {
            flavor: Flavor::Azure,
            method: "POST",
            path,
            query,
            body,
            events: 1,
            seq: 1,
        };
        route(&call).map(|r| match r {
            Reply::Json(s, _) => s,
            Reply::Sse(_) => 0,
        })
    }

    #[test]
    fn api_version_is_required_on_deployment_paths_only() {
        assert_eq!(
            status(
                "/openai/deployments/d/chat/completions",
                Some("api-version=2024-10-21")
            ),
            Some(200)
        );
        assert_eq!(
            status("/openai/deployments/d/chat/completions", None),
            Some(400)
        );
        assert_eq!(
            status("/openai/deployments/d/chat/completions", Some("x=1")),
            Some(400)
        );
        assert_eq!(status("/openai/v1/chat/completions", None), Some(200));
        assert_eq!(status("/anthropic/v1/messages", None), Some(200));
        assert_eq!(status("/openai/v1/files", None), None);
    }
}
