//! Vertex AI, reached through the GenAI route. The key's project and region
//! replace whatever the client put in the path: no client input ever
//! reaches the upstream host name.

use std::borrow::Cow;

use pingora::http::RequestHeader;

use super::{segment_after, set_header, ProviderRules};
use crate::credential::RequestCredential;
use crate::keys::KeyConfig;
use crate::observe::usage::Format;

pub(crate) struct Vertex;

/// `https://{region}-aiplatform.googleapis.com`, or the global endpoint.
pub(crate) fn vertex_base_url(region: &str) -> String {
    if region == "global" {
        "https://aiplatform.googleapis.com".to_string()
    } else {
        format!("https://{region}-aiplatform.googleapis.com")
    }
}

/// `/projects/{P}/locations/{L}/` somewhere in the path, or Vertex Live's
/// service (`/ws/google.cloud.aiplatform.…`), which only Vertex serves: a
/// client that sends no Google token (express mode, a virtual key alone)
/// must not be sent to the Gemini API with it.
pub(crate) fn is_vertex_path(path: &str) -> bool {
    path.starts_with("/ws/google.cloud.aiplatform.") || project_location_span(path).is_some()
}

/// A Vertex resource name as a model: `projects/…/locations/…`.
pub(crate) fn is_vertex_model(model: &str) -> bool {
    let m = model.trim_start_matches('/');
    m.starts_with("projects/") && m.contains("/locations/")
}

/// Byte range of `/projects/{P}/locations/{L}` in `path`.
fn project_location_span(path: &str) -> Option<(usize, usize)> {
    let start = path.find("/projects/")?;
    let after_project = start + "/projects/".len();
    let project_end = after_project + path[after_project..].find('/')?;
    let rest = &path[project_end..];
    let loc = rest.strip_prefix("/locations/")?;
    let loc_end = loc.find('/')?;
    if project_end == after_project || loc_end == 0 {
        return None;
    }
    Some((start, project_end + "/locations/".len() + loc_end))
}

fn rewrite(path: &str, project: &str, region: &str) -> String {
    // Vertex Live (`/ws/google.cloud.aiplatform.…`) names its project in
    // the `setup` message, not the path.
    if path.starts_with("/ws/") {
        return path.to_string();
    }
    let target = format!("/projects/{project}/locations/{region}");
    if let Some((start, end)) = project_location_span(path) {
        return format!("{}{target}{}", &path[..start], &path[end..]);
    }
    // No project in the path: insert it after the version segment; a
    // Gemini-style `models/…` path names Google's publisher models.
    let (version, rest) = match path[1..].find('/') {
        Some(i) => path.split_at(i + 1),
        None => (path, ""),
    };
    let publisher = if rest.starts_with("/models/") {
        "/publishers/google"
    } else {
        ""
    };
    format!("{version}{target}{publisher}{rest}")
}

impl ProviderRules for Vertex {
    fn name(&self) -> &'static str {
        "vertex"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        None
    }

    fn model_in_path<'a>(&self, path: &'a str) -> Option<&'a str> {
        segment_after(path, "/models/")
    }

    fn upstream_path<'a>(&self, key: &KeyConfig, path: &'a str) -> Cow<'a, str> {
        match &key.vertex {
            Some(t) => Cow::Owned(rewrite(path, &t.project, &t.region)),
            None => Cow::Borrowed(path),
        }
    }

    fn inject_credential(&self, cred: &RequestCredential, _path: &str, req: &mut RequestHeader) {
        match cred {
            // Express mode: an API key.
            RequestCredential::Key(secret) => {
                set_header(req, "x-goog-api-key", secret.plain.clone())
            }
            RequestCredential::Bearer(token) => set_header(req, "authorization", token.clone()),
        }
    }

    /// Vertex also serves Claude (Anthropic's format) and an
    /// OpenAI-compatible endpoint.
    fn usage_format(&self, path: &str) -> Format {
        if path.contains("/publishers/anthropic/") {
            Format::Anthropic
        } else if path.contains("/endpoints/openapi/") {
            Format::OpenAi
        } else {
            Format::Gemini
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert!(is_vertex_path(
            "/v1/projects/p/locations/us-central1/publishers/google/models/m:generateContent"
        ));
        assert!(!is_vertex_path("/v1beta/models/gemini:generateContent"));
        assert!(!is_vertex_path("/v1/projects//locations/x/y"));
        assert!(is_vertex_path(
            "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
        ));
        assert!(!is_vertex_path(
            "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
        ));
        assert!(is_vertex_model(
            "projects/p/locations/l/publishers/google/models/m"
        ));
        assert!(!is_vertex_model("gemini-2.5-flash"));
    }

    #[test]
    fn project_and_region_come_from_the_key() {
        assert_eq!(
            rewrite("/v1beta1/projects/client/locations/europe-west4/publishers/google/models/m:generateContent", "mine", "us-central1"),
            "/v1beta1/projects/mine/locations/us-central1/publishers/google/models/m:generateContent"
        );
        assert_eq!(
            rewrite(
                "/v1/publishers/google/models/m:streamGenerateContent",
                "mine",
                "global"
            ),
            "/v1/projects/mine/locations/global/publishers/google/models/m:streamGenerateContent"
        );
        assert_eq!(
            rewrite("/v1beta/models/m:generateContent", "mine", "us-east5"),
            "/v1beta/projects/mine/locations/us-east5/publishers/google/models/m:generateContent"
        );
        let live = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent";
        assert_eq!(rewrite(live, "mine", "us-east5"), live);
        assert_eq!(
            vertex_base_url("global"),
            "https://aiplatform.googleapis.com"
        );
        assert_eq!(
            vertex_base_url("us-central1"),
            "https://us-central1-aiplatform.googleapis.com"
        );
    }
}
