//! Which methods each API path takes, read from the OpenAPI document (the
//! one list of routes): a request to a known path with another method gets
//! 405 with `Allow`, as the error table promises, instead of a 404.

use utoipa::openapi::OpenApi;

/// The API's paths and their methods.
#[derive(Debug, Default)]
pub struct ApiRoutes {
    routes: Vec<(Vec<Segment>, Vec<&'static str>)>,
}

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`: any one non-empty segment.
    Parameter,
}

impl ApiRoutes {
    pub fn from_openapi(api: &OpenApi) -> ApiRoutes {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path
                    .trim_matches('/')
                    .split('/')
                    .map(|segment| {
                        if segment.starts_with('{') && segment.ends_with('}') {
                            Segment::Parameter
                        } else {
                            Segment::Literal(segment.to_owned())
                        }
                    })
                    .collect();
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, declared)| declared.then_some(method))
                .collect();
                (segments, methods)
            })
            .collect();
        ApiRoutes { routes }
    }

    /// The methods `path` takes; `None`: no such path. A trailing slash
    /// makes another path (an empty last segment), as the router sees it.
    pub fn allowed(&self, path: &str) -> Option<&[&'static str]> {
        let asked: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        self.routes
            .iter()
            .find(|(segments, _)| {
                segments.len() == asked.len()
                    && segments
                        .iter()
                        .zip(&asked)
                        .all(|(segment, part)| match segment {
                            Segment::Literal(text) => text == part,
                            Segment::Parameter => !part.is_empty(),
                        })
            })
            .map(|(_, methods)| methods.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_say_their_methods() {
        let routes = ApiRoutes::from_openapi(&crate::admin::openapi());
        assert_eq!(routes.allowed("/api/v1/flow/publish"), Some(&["POST"][..]));
        assert_eq!(
            routes.allowed("/api/v1/nodes/main"),
            Some(&["GET", "PUT", "DELETE"][..])
        );
        assert_eq!(
            routes.allowed("/api/v1/flow/diagram.svg"),
            Some(&["GET"][..])
        );
        assert_eq!(routes.allowed("/api/v1/nowhere"), None);
        assert_eq!(routes.allowed("/api/v1/nodes/main/more"), None);
        assert_eq!(routes.allowed("/voicenter"), Some(&["POST"][..]));
        assert_eq!(
            routes.allowed("/voicenter/s3cr3t-path-segment-0123"),
            Some(&["POST"][..])
        );
    }

    #[test]
    fn a_trailing_slash_is_another_path() {
        let routes = ApiRoutes::from_openapi(&crate::admin::openapi());
        assert_eq!(routes.allowed("/api/v1/flow/publish/"), None);
        assert_eq!(routes.allowed("/api/v1/nodes/"), None);
        assert_eq!(routes.allowed("/voicenter/"), None);
    }
}
