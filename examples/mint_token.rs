//! Mints test bearer tokens and key sets, signed as an identity provider signs them, for
//! trying the API by hand and for `bench/token-cost.sh`. Never for production keys: the
//! ES256 keys are derived from a one-byte seed.
//!
//! ```sh
//! cargo run --example mint_token -- hs256 "$SECRET"      # a token valid for an hour
//! cargo run --example mint_token -- hs256 "$SECRET" alice # whose sub is alice
//! cargo run --example mint_token -- hs256 "$SECRET" root "todos:write todos:admin"
//! cargo run --example mint_token -- es256 7 k1           # signed by test key 7, kid k1
//! cargo run --example mint_token -- jwks 7 k1            # that key's public JWKS
//! ```

use serde_json::json;
use todo_api::testing::tokens;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut claims =
        json!({"sub": "mint_token", "exp": tokens::now() + 3600, "scope": "todos:write"});
    if args.first().map(String::as_str) == Some("hs256") {
        if let Some(sub) = args.get(2) {
            claims["sub"] = json!(sub);
        }
        if let Some(scope) = args.get(3) {
            claims["scope"] = json!(scope);
        }
    }
    let seed = |arg: Option<&String>| -> u8 {
        arg.and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| usage())
    };
    let output = match args.first().map(String::as_str) {
        Some("hs256") => tokens::hs256(args.get(1).unwrap_or_else(|| usage()).as_bytes(), &claims),
        Some("es256") => tokens::es256(
            &tokens::es_key(seed(args.get(1))),
            args.get(2).map_or("k1", String::as_str),
            &claims,
        ),
        Some("jwks") => tokens::jwks(
            &tokens::es_key(seed(args.get(1))),
            args.get(2).map_or("k1", String::as_str),
        ),
        _ => usage(),
    };
    println!("{output}");
}

fn usage() -> ! {
    eprintln!("usage: mint_token hs256 SECRET [SUB [SCOPE]] | es256 SEED [KID] | jwks SEED [KID]");
    std::process::exit(2)
}
