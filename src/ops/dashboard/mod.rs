//! The operators' dashboard: one static page (HTML, CSS and JS inline, no build step, nothing fetched from
//! elsewhere) that the gateway serves at `GET /ops/`. The page asks for an ops token once, keeps it in the tab's
//! `sessionStorage`, and polls `/ops/api/summary` and the dead letters every 2 s: queue depths, counter rates with
//! inline SVG sparklines, dead letters with a Retry button, recent faults, breakers and paused kinds of data.
#![forbid(unsafe_code)]

/// The page.
pub const INDEX_HTML: &str = include_str!("index.html");

#[cfg(test)]
mod tests {
    use super::INDEX_HTML;

    #[test]
    fn the_page_is_self_contained() {
        assert!(INDEX_HTML.starts_with("<!doctype html>"));
        assert!(INDEX_HTML.contains("<meta charset=\"utf-8\">"));
        // Nothing is loaded from anywhere else: no external scripts, styles, fonts or images.
        for needle in ["<script src", "<link", "@import", "url(", "http://", "https://"] {
            let found = INDEX_HTML.match_indices(needle).map(|(i, _)| &INDEX_HTML[i..(i + 60).min(INDEX_HTML.len())]);
            let external: Vec<&str> = found.filter(|s| !s.starts_with("http://www.w3.org/2000/svg")).collect();
            assert!(external.is_empty(), "external reference: {external:?}");
        }
    }

    #[test]
    fn the_page_calls_the_ops_api_with_a_bearer_token() {
        for needle in ["\"/summary\"", "/items?state=dead", "/retry", "Bearer ", "sessionStorage"] {
            assert!(INDEX_HTML.contains(needle), "{needle}");
        }
    }
}
