//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the API, written by hand in
//! `openapi.json` beside this file and served as it is. Its tests hold it to the routes
//! the server has, both ways.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::DOCUMENT;
    use crate::http::endpoints;

    /// `(METHOD, path)` of every operation the document describes.
    fn documented() -> BTreeSet<(String, String)> {
        let document: Value = serde_json::from_str(DOCUMENT).expect("the document is JSON");
        let paths = document["paths"]
            .as_object()
            .expect("the document has paths");
        let mut operations = BTreeSet::new();
        for (path, item) in paths {
            for method in item.as_object().expect("a path item is an object").keys() {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
        operations
    }

    #[test]
    fn every_route_is_documented_and_every_operation_is_served() {
        let served: BTreeSet<(String, String)> = endpoints()
            .into_iter()
            .map(|(method, path)| (method.to_string(), path.to_string()))
            .collect();
        let documented = documented();
        let undocumented: Vec<_> = served.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "served, not documented: {undocumented:?}"
        );
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(unserved.is_empty(), "documented, not served: {unserved:?}");
    }

    #[test]
    fn every_reference_and_path_parameter_resolves() {
        let document: Value = serde_json::from_str(DOCUMENT).expect("the document is JSON");
        assert!(
            document["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3."))
        );
        let mut references = Vec::new();
        collect_references(&document, &mut references);
        for reference in references {
            let pointer = reference
                .strip_prefix('#')
                .expect("references stay inside the document");
            assert!(document.pointer(pointer).is_some(), "{reference} resolves");
        }
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                assert!(
                    operation["responses"]
                        .as_object()
                        .is_some_and(|r| !r.is_empty()),
                    "{method} {path} has responses"
                );
                let declared: BTreeSet<&str> = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                let in_path: BTreeSet<&str> = path
                    .split('/')
                    .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
                    .collect();
                assert_eq!(
                    declared, in_path,
                    "{method} {path} declares its path parameters"
                );
            }
        }
    }

    fn collect_references(value: &Value, into: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                for (name, field) in fields {
                    match (name.as_str(), field) {
                        ("$ref", Value::String(target)) => into.push(target.clone()),
                        _ => collect_references(field, into),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| collect_references(item, into)),
            _ => {}
        }
    }
}
