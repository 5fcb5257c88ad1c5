//! READMEs (written by publishers, so untrusted) as HTML that is safe to put in a page: Markdown
//! rendered by pulldown-cmark, then cleaned by ammonia, which keeps a safe subset of HTML (the
//! tags and attributes READMEs use for layout) and drops everything that can run — `<script>`,
//! `<style>`, event handler attributes, `javascript:` and `data:` URLs, forms, frames. Links keep
//! working (and open nothing with the page's privileges: `rel="noopener noreferrer"`); the
//! page's Content-Security-Policy would stop inline script even if any survived.

use pulldown_cmark::{Options, Parser};

/// The URL schemes a README's links and images may use; relative links are kept as they are.
const SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// Markdown → sanitised HTML.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut html = String::with_capacity(markdown.len() + markdown.len() / 2);
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(markdown, options));
    ammonia::Builder::default()
        .url_schemes(SCHEMES.into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_links_keep_working() {
        let html = to_html(
            "# Title\n\nSee [the docs](https://example.com/docs) and [below](#usage).\n\n\
             | a | b |\n|---|---|\n| 1 | 2 |\n\n```hcl\nmodule \"x\" {}\n```\n",
        );
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("href=\"https://example.com/docs\""), "{html}");
        assert!(html.contains("href=\"#usage\""), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<pre><code"), "{html}");
        assert!(html.contains("module \"x\" {}"), "{html}");
    }

    #[test]
    fn nothing_that_can_run_survives() {
        let attacks = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<a href=\"javascript:alert(1)\">click</a>",
            "[click](javascript:alert(1))",
            "[click](JaVaScRiPt:alert(1))",
            "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            "<svg onload=alert(1)><circle/></svg>",
            "<iframe src=\"https://example.com\"></iframe>",
            "<form action=\"https://example.com\"><input name=q></form>",
            "<style>body{display:none}</style>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "<a href=\"&#106;avascript:alert(1)\">entity</a>",
            "<object data=\"x.swf\"></object><embed src=\"x\">",
            "<meta http-equiv=\"refresh\" content=\"0;url=https://example.com\">",
            "<details open ontoggle=alert(1)><summary>x</summary></details>",
        ];
        for attack in attacks {
            let html = to_html(attack).to_lowercase();
            for bad in [
                "<script",
                "onerror",
                "onload",
                "ontoggle",
                "javascript:",
                "data:text",
                "<iframe",
                "<form",
                "<style",
                "style=",
                "<object",
                "<embed",
                "<meta",
                "<svg",
            ] {
                assert!(!html.contains(bad), "{attack:?} left {bad:?} in {html:?}");
            }
        }
    }
}
