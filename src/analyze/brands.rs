//! Brands: one install watching several brands, its clients and their competitors
//! (`[[brand]]` in the config). Every rule is the same for each brand; what differs is
//! what `@brand` names: a brand's own names and aliases, less its look-alikes. So a mention
//! is judged once for every brand it names, each judgement with that brand's names, and a
//! brand it does not name is not judged at all.
//!
//! One pass over the mention (the spotter, a query per brand) tells which brands it names,
//! so a mention costs one rule scan per brand it names, not one per configured brand.

use std::collections::HashMap;

use super::crisis::CrisisReader;
use super::matcher::{BuildError, Literal, Matcher, RuleMatch};
use super::query::{self, Query};
use super::rules::{BRAND_LIST, RuleSet, field_texts};
use crate::ingest::Mention;

/// A brand as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct BrandSpec {
    /// Its id in the config, the API and group keys (`acme`).
    pub name: String,
    /// Its names and aliases in every language; they are its `@brand`.
    pub names: Vec<String>,
    /// Look-alikes that are not this brand: a hit of a name inside one does not count.
    pub exclude: Vec<String>,
    /// Watched and counted, never the subject of an incident.
    pub competitor: bool,
}

impl BrandSpec {
    /// The brand's `@brand` list: each name, its hits inside a look-alike not counted.
    fn literals(&self) -> Vec<Literal> {
        self.names
            .iter()
            .map(|name| name.trim())
            .filter(|name| !name.is_empty())
            .map(|name| Literal::word(name).except(self.exclude.clone()))
            .collect()
    }
}

/// One brand's compiled view of the rules.
#[derive(Debug)]
struct BrandRules {
    spec: BrandSpec,
    matcher: Matcher,
    crisis: CrisisReader,
}

/// The rules once per brand, and what tells which brands a mention names.
#[derive(Debug)]
pub struct Brands {
    brands: Vec<BrandRules>,
    /// Query `i` is true when the mention names brand `i`.
    spotter: Matcher,
    /// The rules with an empty `@brand`: a mention that names no brand is judged only by
    /// the rules that name none (an industry watch), under no brand.
    unbranded: Matcher,
    unbranded_crisis: CrisisReader,
    /// The brand each brand-derived feed searches for, by feed name.
    feed_brands: HashMap<String, usize>,
}

/// A mention judged for every brand it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The brands it is about, in config order.
    pub brands: Vec<String>,
    /// Each brand's rule matches, tagged with the brand.
    pub matches: Vec<RuleMatch>,
    /// The crisis model's highest probability over the brands it was read for.
    pub crisis: f64,
}

impl Brands {
    /// Compiles `rules` once per brand. `feed_brands` names the brand each feed derived
    /// from a brand's names searches for: an item from it that names no brand (the search
    /// engine matched text the feed left out) is still about that brand.
    pub fn new<'a>(
        rules: &RuleSet,
        specs: &[BrandSpec],
        feed_brands: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Brands, BuildError> {
        let mut brands = Vec::with_capacity(specs.len());
        let mut spotter_lists = HashMap::new();
        let mut spotter_queries: Vec<Query> = Vec::with_capacity(specs.len());
        let names: Vec<_> = specs.iter().map(BrandSpec::literals).collect();
        for (index, spec) in specs.iter().enumerate() {
            let literals = names[index].clone();
            let others = names.iter().enumerate().filter(|(other, _)| *other != index).flat_map(|(_, names)| names);
            let crisis = CrisisReader::for_brand(
                literals.iter().map(|literal| literal.text.as_str()),
                others.map(|literal| literal.text.as_str()),
            );
            let matcher = rules.matcher_with_list(BRAND_LIST, literals.clone())?;
            let list = format!("brand{index}");
            spotter_queries.push(query::parse(&format!("@{list}")).map_err(|e| BuildError(e.message))?);
            spotter_lists.insert(list, literals);
            brands.push(BrandRules { spec: spec.clone(), matcher, crisis });
        }
        let spotter = Matcher::build(&spotter_queries.iter().collect::<Vec<_>>(), &spotter_lists)?;
        let unbranded = rules.matcher_with_list(BRAND_LIST, Vec::new())?;
        let feed_brands = feed_brands
            .into_iter()
            .filter_map(|(feed, brand)| {
                let index = specs.iter().position(|spec| spec.name == brand)?;
                Some((feed.to_owned(), index))
            })
            .collect();
        Ok(Brands { brands, spotter, unbranded, unbranded_crisis: CrisisReader::new([]), feed_brands })
    }

    /// The brands, in config order.
    pub fn specs(&self) -> impl Iterator<Item = &BrandSpec> {
        self.brands.iter().map(|brand| &brand.spec)
    }

    /// The indexes of the brands the mention is about: those it names, or, when it names
    /// none, the brand whose search feed it came from.
    fn about(&self, mention: &Mention) -> Vec<usize> {
        let mut named: Vec<usize> = self.spotter.scan(&field_texts(mention)).into_iter().map(|(i, _)| i).collect();
        if named.is_empty()
            && let Some(&feed_brand) = self.feed_brands.get(&mention.feed)
        {
            named.push(feed_brand);
        }
        named.sort_unstable();
        named
    }

    /// Judges the mention for every brand it is about (see [`Brands`]).
    pub fn judge(&self, rules: &RuleSet, mention: &Mention, sentiment: f64) -> Judgement {
        let about = self.about(mention);
        if about.is_empty() {
            let crisis = rules.crisis_with(&self.unbranded_crisis, mention);
            let matches = rules.scan_on(&self.unbranded, mention, sentiment, || crisis);
            return Judgement { brands: Vec::new(), matches, crisis };
        }
        let mut judgement = Judgement { brands: Vec::with_capacity(about.len()), matches: Vec::new(), crisis: 0.0 };
        for index in about {
            let Some(brand) = self.brands.get(index) else { continue };
            let crisis = rules.crisis_with(&brand.crisis, mention);
            let matches = rules.scan_on(&brand.matcher, mention, sentiment, || crisis);
            judgement.crisis = judgement.crisis.max(crisis);
            judgement
                .matches
                .extend(matches.into_iter().map(|found| RuleMatch { brand: Some(brand.spec.name.clone()), ..found }));
            judgement.brands.push(brand.spec.name.clone());
        }
        judgement
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Example;

    fn spec(name: &str, names: &[&str], exclude: &[&str], competitor: bool) -> BrandSpec {
        BrandSpec {
            name: name.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
            exclude: exclude.iter().map(|n| n.to_string()).collect(),
            competitor,
        }
    }

    fn mention(text: &str, feed: &str) -> Mention {
        let mut mention =
            Example { title: String::new(), body: text.into(), feed: None, author: None, expect_match: true }
                .mention("test", 0);
        mention.feed = feed.into();
        mention
    }

    fn brands() -> (RuleSet, Brands) {
        let rules = RuleSet::bundled();
        let specs = [
            spec("acme", &["Acme", "艾克米"], &["Acme Corp of Ohio"], false),
            spec("globex", &["Globex", "吉博"], &[], false),
            spec("initech", &["Initech"], &[], true),
        ];
        let brands = Brands::new(&rules, &specs, [("acme-google-news", "acme")]).expect("compiles");
        (rules, brands)
    }

    fn judged(text: &str, feed: &str) -> Judgement {
        let (rules, brands) = brands();
        brands.judge(&rules, &mention(text, feed), -0.6)
    }

    fn rules_of(judgement: &Judgement) -> Vec<(String, String)> {
        judgement.matches.iter().map(|m| (m.brand.clone().unwrap_or_default(), m.rule.clone())).collect()
    }

    #[test]
    fn a_crisis_is_judged_for_the_brand_it_names_only() {
        let judgement = judged("Globex yogurt gave my kids food poisoning, we were sick all night", "forum");
        assert_eq!(judgement.brands, ["globex"]);
        assert_eq!(rules_of(&judgement), [("globex".to_owned(), "food-safety".to_owned())]);
    }

    #[test]
    fn a_mention_naming_two_brands_is_judged_for_each() {
        let judgement = judged("Food poisoning at a school: Acme and Globex yogurt both served, 30 sick", "news");
        assert_eq!(judgement.brands, ["acme", "globex"]);
        let brands: Vec<String> = rules_of(&judgement).into_iter().map(|(brand, _)| brand).collect();
        assert!(brands.contains(&"acme".to_owned()) && brands.contains(&"globex".to_owned()), "{judgement:?}");
    }

    #[test]
    fn a_look_alike_is_not_the_brand_and_chinese_names_count() {
        let look_alike = judged("Acme Corp of Ohio recalls its lawn mowers after fires", "news");
        assert!(look_alike.brands.is_empty(), "{look_alike:?}");
        assert!(look_alike.matches.is_empty());
        let zh = judged("吉博酸奶致多名儿童食物中毒住院", "weibo");
        assert_eq!(zh.brands, ["globex"]);
        assert!(!zh.matches.is_empty(), "{zh:?}");
    }

    #[test]
    fn an_item_from_a_brand_search_feed_naming_no_brand_is_that_brands() {
        let judgement = judged("Yogurt maker faces questions over sick children", "acme-google-news");
        assert_eq!(judgement.brands, ["acme"]);
        let elsewhere = judged("Yogurt maker faces questions over sick children", "forum");
        assert!(elsewhere.brands.is_empty());
    }

    #[test]
    fn the_same_text_reads_alike_for_each_brand() {
        let acme = judged("Acme recalls yogurt over listeria", "news");
        let globex = judged("Globex recalls yogurt over listeria", "news");
        assert_eq!(acme.matches.len(), globex.matches.len());
        assert!((acme.crisis - globex.crisis).abs() < 1e-9, "{} vs {}", acme.crisis, globex.crisis);
        assert!(acme.crisis > 0.5, "{}", acme.crisis);
    }
}
