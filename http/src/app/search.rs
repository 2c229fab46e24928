//! Finding dossiers (tra cứu hồ sơ) as desk staff do: by code, by the applicant's name without
//! diacritics ("nguyen van a" finds "Nguyễn Văn A"), identity number or phone, and by the day
//! received, a page at a time.
//!
//! Names, numbers and phones are sealed in the log, so the words are found in the key store's
//! search index (`motcua_engine::personal`), which an erasure empties for the person. Every
//! candidate is checked against the log (the dossier's receipt or submission must be sealed
//! for the person found: the index is written just before the append, which can fail), and
//! against the caller's unit.

use chrono::NaiveDate;
use motcua_engine::domain::calendar::local_date;
use motcua_engine::domain::personal::{ApplicantRecord, SubjectId};
use motcua_engine::domain::types::{DossierCode, Role};
use motcua_engine::log::StreamId;
use motcua_engine::projection::keys::local_midnight;
use motcua_engine::projection::views::{DossierView, ListFilter};
use motcua_engine::projection::ReadModels;

use crate::app::caller::Caller;
use crate::app::decode::LoggedEvent;
use crate::app::error::AppError;
use crate::app::handle::App;
use crate::app::views::applicant_record;

/// Dossiers on one page of results.
pub const PAGE_SIZE: usize = 20;
/// The most dossiers one search finds (the page says when there were more: narrow it).
pub const MAX_HITS: usize = 1_000;
/// The longest search text.
pub const MAX_QUERY_CHARS: usize = 200;

/// Who may search: staff who read dossiers with their applicants.
const SEARCHERS: [Role; 5] = [
    Role::Reception,
    Role::Specialist,
    Role::Leader,
    Role::Admin,
    Role::Auditor,
];

/// What to find: any of a text (code, name, identity number, phone) and a range of days
/// received (local dates, both ends included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub text: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// From 1.
    pub page: usize,
}

/// One dossier found.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub view: DossierView,
    pub applicant_name: String,
}

/// A page of results, newest code first.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    /// More dossiers matched than [`MAX_HITS`] (or a word was too common to read whole).
    pub cut: bool,
}

/// The search of an [`App`].
pub struct Search<'a> {
    app: &'a App,
}

impl App {
    /// Dossier search.
    pub fn search(&self) -> Search<'_> {
        Search { app: self }
    }
}

impl Search<'_> {
    /// The page `q.page` of the dossiers matching `q` that `caller` may read.
    pub fn find(&self, caller: &Caller, q: &SearchQuery) -> Result<SearchPage, AppError> {
        caller.require_any(&SEARCHERS)?;
        let text = q.text.trim();
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(AppError::invalid(
                "q",
                format!("at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        if text.is_empty() && q.from.is_none() && q.to.is_none() {
            return Err(AppError::invalid(
                "q",
                "give a code, a name, an identity or phone number, or a range of days",
            ));
        }
        let (mut views, mut cut) = if text.is_empty() {
            self.by_days(caller, q)?
        } else if let Ok(code) = text.parse::<DossierCode>() {
            (self.readable(caller, &code)?.into_iter().collect(), false)
        } else {
            self.by_words(caller, text)?
        };
        views.retain(|v| within(received_day(v), q.from, q.to));
        views.sort_by(|a, b| b.code.as_str().cmp(a.code.as_str()));
        if views.len() > MAX_HITS {
            views.truncate(MAX_HITS);
            cut = true;
        }
        let total = views.len();
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        let page = q.page.clamp(1, pages);
        let hits = views
            .into_iter()
            .skip((page - 1) * PAGE_SIZE)
            .take(PAGE_SIZE)
            .map(|view| self.hit(view))
            .collect::<Result<_, _>>()?;
        Ok(SearchPage {
            hits,
            total,
            page,
            pages,
            cut,
        })
    }

    /// The dossiers of the words' people, each checked against the log.
    fn by_words(&self, caller: &Caller, text: &str) -> Result<(Vec<DossierView>, bool), AppError> {
        let (candidates, cut) = self
            .app
            .service()
            .personal()
            .search(text)
            .map_err(AppError::internal)?;
        let mut out = Vec::new();
        for (subject, code) in candidates {
            if out.len() > MAX_HITS {
                return Ok((out, true));
            }
            if self.sealed_for(&code)? != Some(subject) {
                continue;
            }
            if let Some(v) = self.readable(caller, &code)? {
                out.push(v);
            }
        }
        Ok((out, cut))
    }

    /// The caller's unit's dossiers received within the range, newest first (through the
    /// dossier list, which is ordered so).
    fn by_days(
        &self,
        caller: &Caller,
        q: &SearchQuery,
    ) -> Result<(Vec<DossierView>, bool), AppError> {
        let filter = ListFilter {
            unit: caller.unit().clone(),
            field: None,
            state: None,
            channel: None,
            procedure: None,
        };
        let rm = self.app.read_models();
        let mut out = Vec::new();
        // The walk goes newest first: it starts at the end of `to`, not at today.
        let mut cursor: Option<String> =
            q.to.and_then(|t| t.succ_opt())
                .map(|after| ReadModels::list_cursor_before(local_midnight(after)));
        loop {
            let page = rm
                .list(&filter, cursor.as_deref(), 500)
                .map_err(AppError::internal)?;
            for v in page.items {
                let day = received_day(&v);
                if q.from.is_some_and(|f| day.is_some_and(|d| d < f)) {
                    return Ok((out, false));
                }
                if within(day, q.from, q.to) {
                    out.push(v);
                    if out.len() > MAX_HITS {
                        return Ok((out, true));
                    }
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok((out, false)),
            }
        }
    }

    /// Dossier `code`'s view if it exists and the caller may read its unit.
    fn readable(
        &self,
        caller: &Caller,
        code: &DossierCode,
    ) -> Result<Option<DossierView>, AppError> {
        let Some(v) = self.app.read_models().dossier(code)? else {
            return Ok(None);
        };
        Ok(caller.require_unit(&v.unit).is_ok().then_some(v))
    }

    /// The person dossier `code`'s first events seal their applicant for.
    fn sealed_for(&self, code: &DossierCode) -> Result<Option<SubjectId>, AppError> {
        let envs = self.app.log().read_stream(&StreamId::dossier(code), 1)?;
        Ok(envs
            .into_iter()
            .take(2)
            .map(LoggedEvent::new)
            .find_map(|e| applicant_record(e.event.as_ref()?).and_then(ApplicantRecord::subject)))
    }

    fn hit(&self, view: DossierView) -> Result<SearchHit, AppError> {
        let envs = self
            .app
            .log()
            .read_stream(&StreamId::dossier(&view.code), 1)?;
        let record = envs
            .into_iter()
            .take(2)
            .map(LoggedEvent::new)
            .find_map(|e| applicant_record(e.event.as_ref()?).cloned());
        let applicant_name = match record {
            Some(r) => self.app.views().open_applicant(&r)?.name,
            None => String::new(),
        };
        Ok(SearchHit {
            view,
            applicant_name,
        })
    }
}

/// The local day a dossier was received (submitted, for one not received yet).
fn received_day(v: &DossierView) -> Option<NaiveDate> {
    v.received_at.or(v.submitted_at).map(local_date)
}

fn within(day: Option<NaiveDate>, from: Option<NaiveDate>, to: Option<NaiveDate>) -> bool {
    match day {
        Some(d) => from.is_none_or(|f| d >= f) && to.is_none_or(|t| d <= t),
        None => from.is_none() && to.is_none(),
    }
}
