//! The dashboard is served by the same process: pages for every email link, the embedded assets
//! under content-hashed names, the dashboard's own 404 page for unknown pages, and JSON 404s
//! under /api and /assets. (Compression, caching headers and the flows themselves are tested in
//! a real browser: `web/tests`.)

use crate::harness::TestServer;

#[test]
fn pages_and_assets_are_served_and_unknown_paths_get_the_right_404() {
    let srv = TestServer::start();
    let c = srv.client();
    let mut app = None;
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
        "/teams/abc/members",
    ] {
        let r = c.raw("GET", p, None, &[]).unwrap();
        assert_eq!(r.status, 200, "{p}");
        let marker = "<script type=\"module\" src=\"/assets/";
        let at = r.body.find(marker).expect("the page loads app.js");
        let name: String = r.body[at + marker.len()..].chars().take_while(|c| *c != '"').collect();
        assert!(name.len() == "app.0123456789ab.js".len() && name.ends_with(".js"), "{p}: {name}");
        app = Some(name);
    }
    // The hashed name and the plain one are the same file (the plain one for old links).
    let app = app.unwrap();
    let hashed = c.raw("GET", &format!("/assets/{app}"), None, &[]).unwrap();
    let plain = c.raw("GET", "/assets/app.js", None, &[]).unwrap();
    assert_eq!((hashed.status, plain.status), (200, 200));
    assert_eq!(hashed.body, plain.body);
    assert!(
        hashed.body.contains("/assets/worker.") && !hashed.body.contains("/assets/worker.js"),
        "references are rewritten"
    );
    let root = env!("CARGO_MANIFEST_DIR");
    let css = c.raw("GET", "/assets/style.css", None, &[]).unwrap();
    assert_eq!(css.body, std::fs::read_to_string(format!("{root}/web/assets/style.css")).unwrap());
    // An unknown page: the dashboard's page (it says "Page not found"), with a 404 status.
    for p in ["/nope", "/accountsX", "/teams/abc/nope"] {
        let r = c.raw("GET", p, None, &[]).unwrap();
        assert_eq!(r.status, 404, "{p}");
        assert!(r.body.contains("<script type=\"module\""), "{p}: {}", r.body);
    }
    // Under /api and /assets, and for anything but GET: a JSON error.
    for p in ["/api/v1/nope", "/assets/index.html", "/assets/../Cargo.toml", "/assets/nope.js"] {
        let r = c.raw("GET", p, None, &[]).unwrap();
        assert_eq!(r.status, 404, "{p}");
        assert!(r.body.contains("\"code\":\"route.not_found\""), "{p}: {}", r.body);
    }
    let r = c.raw("POST", "/signin", Some(("application/json", "{}")), &[]).unwrap();
    assert!(r.status == 404 || r.status == 405, "{}", r.status);
}
