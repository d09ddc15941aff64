//! Prepares the dashboard's assets (`web/assets`) for serving: each file gets a content-hashed
//! name (so it can be cached forever: `Cache-Control: immutable`), references between them are
//! rewritten to those names, and each is compressed with brotli and gzip here, at build time —
//! the server never compresses on a request. The output depends only on the files' bytes, so the
//! build stays reproducible (`web/build.sh --check` compares the inputs).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

/// In dependency order: a file's references are to files before it.
const FILES: &[&str] =
    &["pkg/vouchsafe_web_bg.wasm", "pkg/vouchsafe_web.js", "worker.js", "app.js", "style.css", "index.html"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let src = Path::new("web/assets");
    let out = std::env::var("OUT_DIR")?;
    let out = Path::new(&out);
    // (text as referenced in the sources, hashed name)
    // Earlier builds' hashed files: gone, so OUT_DIR holds only what this build embeds.
    for entry in std::fs::read_dir(out)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = FILES.iter().any(|f| {
            let base = f.rsplit('/').next().unwrap_or(f);
            base.rsplit_once('.').is_some_and(|(stem, _)| name.starts_with(&format!("{stem}-")))
        });
        if ours {
            std::fs::remove_file(entry.path())?;
        }
    }
    let mut renames: Vec<(String, String)> = Vec::new();
    let mut table = String::from("&[\n");
    for f in FILES {
        println!("cargo:rerun-if-changed=web/assets/{f}");
        let mut body = std::fs::read(src.join(f))?;
        if !f.ends_with(".wasm") {
            let mut text = String::from_utf8(body)?;
            for (from, to) in &renames {
                text = text.replace(from.as_str(), to.as_str());
            }
            body = text.into_bytes();
        }
        let hash: String = Sha256::digest(&body)[..6].iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
        let base = f.rsplit('/').next().unwrap_or(f);
        let (stem, ext) = base.rsplit_once('.').unwrap_or((base, ""));
        let hashed = if *f == "index.html" { base.to_owned() } else { format!("{stem}.{hash}.{ext}") };
        match *f {
            // worker.js: `'./pkg/x'`; app.js: `'/assets/worker.js'`; index.html: `/assets/x`.
            f if f.starts_with("pkg/") => renames.push((format!("./{f}"), format!("./{hashed}"))),
            _ => renames.push((format!("/assets/{f}"), format!("/assets/{hashed}"))),
        }
        let key = format!("{stem}-{hash}.{ext}");
        std::fs::write(out.join(&key), &body)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&body)?;
        std::fs::write(out.join(format!("{key}.gz")), gz.finish()?)?;
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 64 * 1024, 11, 22);
            w.write_all(&body)?;
        }
        std::fs::write(out.join(format!("{key}.br")), br)?;
        writeln!(
            table,
            "    Built {{ source: {f:?}, name: {hashed:?}, etag: \"\\\"{hash}\\\"\", plain: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{key}\")), \
             gzip: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{key}.gz\")), brotli: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{key}.br\")) }},"
        )?;
    }
    table.push(']');
    std::fs::write(out.join("assets.rs"), table)?;
    Ok(())
}
