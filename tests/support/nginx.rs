//! nginx in front of a host, configured with `deploy/nginx/todo-api.conf` as users get it
//! (only its two addresses changed), run as a process of its own: Debian's nginx,
//! `TODO_TEST_NGINX` or `nginx` on PATH (`make test` installs it where it is missing).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

/// An nginx process on a free port of 127.0.0.1 passing requests to `upstream`; stopped
/// when dropped.
pub struct Nginx {
    child: Child,
    dir: TempDir,
    pub base: String,
    pub port: u16,
}

fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("TODO_TEST_NGINX") {
        return PathBuf::from(path);
    }
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from("nginx"))
}

impl Nginx {
    /// `upstream` is the host's `127.0.0.1:PORT`.
    pub fn start(upstream: &str) -> Self {
        let site = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/todo-api.conf"),
        )
        .expect("read deploy/nginx/todo-api.conf");
        assert!(site.contains("server 127.0.0.1:3000;") && site.contains("listen 8080;"));
        let port = super::free_port();
        let site = site
            .replace("server 127.0.0.1:3000;", &format!("server {upstream};"))
            .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"));
        let dir = TempDir::new().unwrap();
        let path = |name: &str| dir.path().join(name).display().to_string();
        std::fs::write(path("site.conf"), site).unwrap();
        // `user` matters only when started as root, whose workers would otherwise run as
        // nobody, unable to use this directory.
        let main = format!(
            "daemon off;\nuser root root;\nworker_processes 1;\npid {pid};\n\
             error_log {log};\nevents {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {tmp}/body;\n\
             proxy_temp_path {tmp}/proxy;\n  fastcgi_temp_path {tmp}/fastcgi;\n\
             uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n\
             include {site};\n}}\n",
            pid = path("nginx.pid"),
            log = path("error.log"),
            tmp = dir.path().display(),
            site = path("site.conf"),
        );
        std::fs::write(path("nginx.conf"), main).unwrap();
        let child = Command::new(binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(path("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(path("stderr.log")).unwrap())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "start {}: {error} (install Debian's nginx, or set TODO_TEST_NGINX)",
                    binary().display()
                )
            });
        let mut nginx = Self {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}"),
            port,
        };
        let log = nginx.dir.path().join("stderr.log");
        super::wait_until_serving("nginx", &mut nginx.child, &nginx.base.clone(), &log, 30);
        nginx
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> super::Reply {
        super::request_to(&self.base, method, path, headers, body)
            .unwrap_or_else(|error| panic!("{method} {path} through nginx: {error}"))
    }

    /// Sends `bytes` as they are and reads the answer to its end (nginx closes these
    /// connections), or what came within 10 s.
    pub fn raw(&self, bytes: &[u8]) -> String {
        let address = format!("127.0.0.1:{}", self.port);
        super::raw_exchange(&address, bytes, std::time::Duration::from_secs(10)).0
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM, not KILL: the master stops its workers on the way out; killed, it would
        // leave them serving.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
