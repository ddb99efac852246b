//! The pages' languages: Fluent messages compiled into the binary (`src/web/locales/<tag>/`),
//! the choice of a language for a request, and [`t`] / [`ta`] to look a message up.
//!
//! A request is answered in the signed-in user's stored preference, else the language cookie
//! (set by the header's language switch, so the sign-in page follows it), else the first
//! language of `Accept-Language` we have, else English. Every Chinese tag (`zh`, `zh-CN`,
//! `zh-Hans`, and also `zh-TW`, `zh-Hant`, `zh-HK`) gets Simplified Chinese: it is the only
//! Chinese we have, and a reader of Traditional Chinese reads it far more readily than English.

use std::borrow::Cow;
use std::collections::HashMap;

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::HttpRequest;
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};

pub use crate::language::Language as Lang;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./src/web/locales",
        fallback_language: "en",
        // No bidi isolation marks around arguments: the English pages stay byte for byte
        // what they were, and no argument here is right-to-left text.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The language cookie's name.
pub const COOKIE: &str = "tg_lang";

fn identifier(lang: Lang) -> LanguageIdentifier {
    match lang {
        Lang::En => fluent_templates::langid!("en"),
        Lang::ZhCn => fluent_templates::langid!("zh-CN"),
    }
}

/// The message `key` in `lang` (English when the language lacks it; the key parity test
/// makes sure none does).
pub fn t(lang: Lang, key: &str) -> String {
    LOCALES.lookup(&identifier(lang), key)
}

/// The message `key` in `lang` with its arguments.
pub fn ta(lang: Lang, key: &str, args: &[(&'static str, FluentValue<'_>)]) -> String {
    let args: HashMap<Cow<'static, str>, FluentValue<'_>> = args
        .iter()
        .map(|(k, v)| (Cow::Borrowed(*k), v.clone()))
        .collect();
    LOCALES.lookup_with_args(&identifier(lang), key, &args)
}

/// The language of a tag as browsers send it (`zh-Hans-CN`, `en-GB`, `ZH`), by its primary
/// subtag; `None` for one we do not have.
fn of_tag(tag: &str) -> Option<Lang> {
    let primary = tag.split(['-', '_']).next().unwrap_or("");
    if primary.eq_ignore_ascii_case("zh") {
        Some(Lang::ZhCn)
    } else if primary.eq_ignore_ascii_case("en") {
        Some(Lang::En)
    } else {
        None
    }
}

/// The most preferred language of an `Accept-Language` value that we have: entries ordered by
/// their q-value (ties keep their order, `q=0` means "not this"); a `*` is any language, so
/// English. `None` when the header names none of ours.
pub fn negotiate(accept_language: &str) -> Option<Lang> {
    let mut ranges: Vec<(u16, usize, &str)> = accept_language
        .split(',')
        .enumerate()
        .filter_map(|(i, entry)| {
            let mut parts = entry.split(';');
            let tag = parts.next()?.trim();
            let mut q = 1000u16;
            for p in parts {
                let p = p.trim();
                if let Some(v) = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")) {
                    q = parse_q(v.trim())?;
                }
            }
            (!tag.is_empty() && q > 0).then_some((q, i, tag))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges.into_iter().find_map(|(_, _, tag)| {
        if tag == "*" {
            Some(Lang::En)
        } else {
            of_tag(tag)
        }
    })
}

/// A q-value (`0`, `0.5`, `1.000`) in thousandths; `None` when malformed (the entry is ignored).
fn parse_q(v: &str) -> Option<u16> {
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// The language a request asks for without a signed-in preference: the cookie, else
/// `Accept-Language`, else English.
pub fn of_request(req: &HttpRequest) -> Lang {
    req.cookie(COOKIE)
        .and_then(|c| Lang::from_tag(c.value()))
        .or_else(|| {
            req.headers()
                .get(actix_web::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(negotiate)
        })
        .unwrap_or_default()
}

/// The cookie that keeps the chosen language for this browser (the sign-in page included).
pub fn cookie(lang: Lang, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, lang.tag())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(time::Duration::days(365))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_is_negotiated_by_q_value() {
        let n = negotiate;
        assert_eq!(n("zh-CN"), Some(Lang::ZhCn));
        assert_eq!(n("zh"), Some(Lang::ZhCn));
        assert_eq!(n("zh-Hans"), Some(Lang::ZhCn));
        assert_eq!(n("zh-Hans-CN,zh;q=0.9"), Some(Lang::ZhCn));
        assert_eq!(n("zh-TW"), Some(Lang::ZhCn));
        assert_eq!(n("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(n("en;q=0.5, zh-CN;q=0.8"), Some(Lang::ZhCn));
        assert_eq!(n("zh-CN;q=0, en"), Some(Lang::En));
        assert_eq!(n("fr-FR, zh;q=0.3"), Some(Lang::ZhCn));
        assert_eq!(n("fr, de"), None);
        assert_eq!(n("fr, *;q=0.1"), Some(Lang::En));
        assert_eq!(n("en;q=0.9, zh;q=0.9"), Some(Lang::En));
        assert_eq!(
            n("zh;q=2, en;q=0.1"),
            Some(Lang::En),
            "a malformed q drops its entry"
        );
        assert_eq!(n("zh;q=abc"), None);
        assert_eq!(n(""), None);
        assert_eq!(n(",,;;q=,"), None);
    }

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    use fluent_syntax::ast;

    fn locales() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/locales")
    }

    /// The variables a pattern uses (`$n`), selectors and variants included.
    fn variables(pattern: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
        fn inline(e: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>) {
            match e {
                ast::InlineExpression::VariableReference { id } => {
                    out.insert(id.name.to_string());
                }
                ast::InlineExpression::Placeable { expression } => expression_vars(expression, out),
                _ => {}
            }
        }
        fn expression_vars(e: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
            match e {
                ast::Expression::Inline(i) => inline(i, out),
                ast::Expression::Select { selector, variants } => {
                    inline(selector, out);
                    for v in variants {
                        variables(&v.value, out);
                    }
                }
            }
        }
        for element in &pattern.elements {
            if let ast::PatternElement::Placeable { expression } = element {
                expression_vars(expression, out);
            }
        }
    }

    /// Every message and attribute of a language's files, with the variables it uses;
    /// fails on a syntax error or a key defined twice (either would stop the loader).
    fn messages(tag: &str) -> BTreeMap<String, BTreeSet<String>> {
        let mut out = BTreeMap::new();
        let mut files: Vec<_> = std::fs::read_dir(locales().join(tag))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "ftl"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no .ftl file for {tag}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let resource = fluent_syntax::parser::parse(text.as_str())
                .unwrap_or_else(|(_, errors)| panic!("{}: {errors:?}", file.display()));
            for entry in resource.body {
                let (id, value, attributes) = match entry {
                    ast::Entry::Message(m) => (m.id.name.to_string(), m.value, m.attributes),
                    ast::Entry::Term(t) => (format!("-{}", t.id.name), Some(t.value), t.attributes),
                    _ => continue,
                };
                let mut vars = BTreeSet::new();
                if let Some(v) = &value {
                    variables(v, &mut vars);
                }
                for a in &attributes {
                    let mut avars = BTreeSet::new();
                    variables(&a.value, &mut avars);
                    let key = format!("{id}.{}", a.id.name);
                    assert!(
                        out.insert(key.clone(), avars).is_none(),
                        "{tag}: {key} twice"
                    );
                }
                assert!(
                    out.insert(id.clone(), vars).is_none(),
                    "{tag}: {id} twice ({})",
                    file.display()
                );
            }
        }
        out
    }

    /// The keys the code names literally: `t(lang, "key")`, `ta(lang, "key", …)`.
    fn keys_in_code() -> BTreeSet<String> {
        let call =
            regex::Regex::new(r#"\bta?\(\s*[A-Za-z_][A-Za-z0-9_.]*\s*,\s*"([a-z0-9-]+)""#).unwrap();
        let mut out = BTreeSet::new();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                let text: String = std::fs::read_to_string(&path)
                    .unwrap()
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .map(|l| format!("{l}\n"))
                    .collect();
                for c in call.captures_iter(&text) {
                    out.insert(c[1].to_string());
                }
            }
        }
        out
    }

    #[test]
    fn every_message_is_in_every_language_with_the_same_arguments() {
        let en = messages("en");
        let zh = messages("zh-CN");
        let only = |a: &BTreeMap<String, BTreeSet<String>>,
                    b: &BTreeMap<String, BTreeSet<String>>| {
            a.keys()
                .filter(|k| !b.contains_key(*k))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(only(&en, &zh), Vec::<String>::new(), "in English only");
        assert_eq!(only(&zh, &en), Vec::<String>::new(), "in Chinese only");
        let differing: Vec<_> = en
            .iter()
            .filter(|(k, vars)| zh.get(*k).is_some_and(|z| z != *vars))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(differing, Vec::<String>::new(), "arguments differ");
        // Every language directory is one of ours.
        let dirs: BTreeSet<String> = std::fs::read_dir(locales())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let ours: BTreeSet<String> = Lang::ALL.iter().map(|l| l.tag().to_string()).collect();
        assert_eq!(dirs, ours);
    }

    #[test]
    fn every_key_the_code_uses_exists() {
        let en = messages("en");
        let used = keys_in_code();
        assert!(
            used.len() > 200,
            "the scan finds the calls ({})",
            used.len()
        );
        let mut all: BTreeSet<String> = used;
        all.extend(super::super::messages::keys().into_iter().map(String::from));
        let zh = messages("zh-CN");
        let missing: Vec<_> = all
            .iter()
            .filter(|k| !en.contains_key(*k) || !zh.contains_key(*k))
            .collect();
        assert!(missing.is_empty(), "keys without a message: {missing:?}");
        // And the loader has them, compiled in.
        for lang in Lang::ALL {
            for key in all.iter().filter(|k| en[*k].is_empty()) {
                assert!(!t(lang, key).starts_with("Unknown localization"), "{key}");
            }
        }
    }

    #[test]
    fn messages_are_looked_up_with_arguments() {
        assert_eq!(t(Lang::En, "nav-trials"), "Trials");
        assert_eq!(t(Lang::ZhCn, "nav-trials"), "试验");
        assert_eq!(
            ta(Lang::En, "closed-title", &[("trial", "NCT1".into())]),
            "Trial NCT1 is closed"
        );
    }
}
