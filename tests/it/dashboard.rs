//! The dashboard is served by the same process: pages for every email link, the embedded assets
//! byte for byte, and JSON 404s for everything else. (Headers and the flows themselves are
//! tested in a real browser: `web/tests`.)

use crate::harness::TestServer;

#[test]
fn pages_and_assets_are_served_and_unknown_paths_stay_json() {
    let srv = TestServer::start();
    let c = srv.client();
    for p in [
        "/",
        "/signin",
        "/signup",
        "/settings",
        "/invite",
        "/reset",
        "/reset/cancel",
        "/recover",
        "/guardian",
        "/accounts/abc/items",
    ] {
        let r = c.raw("GET", p, None, &[]).unwrap();
        assert_eq!(r.status, 200, "{p}");
        assert!(r.body.contains("<script type=\"module\" src=\"/assets/app.js\"></script>"), "{p}");
    }
    let root = env!("CARGO_MANIFEST_DIR");
    for a in ["app.js", "worker.js", "style.css", "pkg/vouchsafe_web.js"] {
        let r = c.raw("GET", &format!("/assets/{a}"), None, &[]).unwrap();
        assert_eq!(r.status, 200, "{a}");
        assert_eq!(r.body, std::fs::read_to_string(format!("{root}/web/assets/{a}")).unwrap(), "{a}");
    }
    for p in ["/nope", "/assets/index.html", "/assets/../Cargo.toml", "/accountsX"] {
        let r = c.raw("GET", p, None, &[]).unwrap();
        assert_eq!(r.status, 404, "{p}");
        assert!(r.body.contains("\"code\":\"route.not_found\""), "{p}: {}", r.body);
    }
    let r = c.raw("POST", "/signin", Some(("application/json", "{}")), &[]).unwrap();
    assert!(r.status == 404 || r.status == 405, "{}", r.status);
}
