//! The languages people read trialgate in. Pure data: which languages exist and how each is
//! named in a stored preference, a cookie and an HTML `lang` attribute. What the pages say in
//! each is the web's business (`src/web/i18n.rs`); what a protocol says is the protocol's.

/// A language of the pages, the protocol texts and the messages a person reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Language {
    #[default]
    En,
    /// Simplified Chinese as written in mainland China.
    ZhCn,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::En, Language::ZhCn];

    /// The BCP 47 tag: stored in `users.language`, sent in the language cookie and the
    /// `lang` attribute.
    pub fn tag(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::ZhCn => "zh-CN",
        }
    }

    /// A stored or sent tag back to its language (exact tags only).
    pub fn from_tag(tag: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.tag() == tag)
    }

    /// The language's name in itself, as a language switch offers it.
    pub fn native_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::ZhCn => "简体中文",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        for l in Language::ALL {
            assert_eq!(Language::from_tag(l.tag()), Some(l));
        }
        assert_eq!(Language::from_tag("zh"), None);
        assert_eq!(Language::from_tag(""), None);
    }
}
