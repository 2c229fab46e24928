//! Reform plans (kế hoạch cải cách hành chính) through the plan service: the plans the caller's
//! unit may see, one plan with its events, its dashboard (live, or as of an earlier instant),
//! and the planner's writes. The plan service checks the planner role and unit, the plan rules,
//! the expected version and idempotency; this file scopes the reads to the caller's unit.

use motcua_engine::domain::plan::PlanProgress;
use motcua_engine::domain::types::{PlanId, Timestamp};
use motcua_engine::idempotency::KeyScope;
use motcua_engine::plan_service::{
    LoadedPlan, PlanCommand, PlanOutcome, PlanSummary, WriteOptions,
};

use crate::app::caller::Caller;
use crate::app::clock;
use crate::app::error::AppError;
use crate::app::handle::App;
use crate::app::idempotency::{command_key, IdempotencyKey};

/// The plan commands and reads of an [`App`].
pub struct Plans<'a> {
    app: &'a App,
}

impl App {
    /// Reform plans.
    pub fn plans(&self) -> Plans<'_> {
        Plans { app: self }
    }
}

impl Plans<'_> {
    /// The plans of the units `caller` may see.
    pub fn list(&self, caller: &Caller) -> Result<Vec<PlanSummary>, AppError> {
        let plans = self.app.plan_service().list()?;
        Ok(plans
            .into_iter()
            .filter(|p| caller.require_unit(&p.unit).is_ok())
            .collect())
    }

    /// Plan `plan` with its version and events, if in the caller's unit.
    pub fn get(&self, caller: &Caller, plan: &PlanId) -> Result<LoadedPlan, AppError> {
        let loaded = self.app.plan_service().load(plan)?;
        caller.require_unit(&loaded.state.unit)?;
        Ok(loaded)
    }

    /// The dashboard of `plan` now over the live read models, or as of an earlier instant
    /// (folded from the log); `None` if the plan was not issued by then.
    pub async fn dashboard(
        &self,
        caller: &Caller,
        plan: &PlanId,
        as_of: Option<Timestamp>,
    ) -> Result<Option<PlanProgress>, AppError> {
        self.get(caller, plan)?;
        let now = clock::now();
        let progress = match as_of {
            Some(t) if t < now => {
                // Folding the log is CPU-bound: keep it off the async workers.
                let app = self.app.clone();
                let plan = plan.clone();
                tokio::task::spawn_blocking(move || app.plan_service().dashboard_as_of(&plan, t))
                    .await
                    .map_err(AppError::internal)?
            }
            _ => self.app.plan_service().dashboard_live(
                plan,
                now,
                self.app.read_models(),
                self.app.projection_seq(),
            ),
        }?;
        Ok(progress)
    }

    /// Records `cmd` on `plan` as `caller` at business time `at` (default now); `expected` is
    /// the plan stream's version the caller last saw (`If-Match`).
    pub async fn execute(
        &self,
        caller: &Caller,
        plan: &PlanId,
        cmd: PlanCommand,
        at: Option<Timestamp>,
        expected: Option<u64>,
        key: Option<&IdempotencyKey>,
    ) -> Result<PlanOutcome, AppError> {
        let key = command_key(caller, KeyScope::Plan, key);
        let options = WriteOptions {
            at,
            expected,
            key: key.as_ref(),
        };
        Ok(self
            .app
            .plan_service()
            .execute(plan, cmd, &caller.actor(), clock::now(), options)
            .await?)
    }
}
