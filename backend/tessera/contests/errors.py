from __future__ import annotations

from tessera.core.errors import Conflict, NotFound, Unprocessable


class ContestNotFound(NotFound):
    code = "contest_not_found"
    title = "No such contest"


class ContestBatchNotFound(NotFound):
    code = "contest_batch_not_found"
    title = "No such code batch"


class DrawNotFound(NotFound):
    code = "draw_not_found"
    title = "This contest has not been drawn"


class ContestNotOpen(Unprocessable):
    """Before the start, after the end or once the marketer closed entries (``contest_status``)."""

    code = "contest_not_open"
    title = "This contest does not take entries now"


class CodeAlreadyEntered(Conflict):
    code = "code_already_entered"
    title = "This code has already been entered"


class EntryLimitReached(Unprocessable):
    """``limit`` is ``contest`` (the per-customer total) or ``day`` (per day of the contest)."""

    code = "entry_limit_reached"
    title = "The entry limit is reached"


class ConsentRequired(Unprocessable):
    code = "marketing_consent_required"
    title = "Contests are for customers who agreed to receive offers"


class CodePoolExhausted(Unprocessable):
    code = "code_pool_exhausted"
    title = "The instant win's pool has no codes left to generate"


class NotAPointsContest(Unprocessable):
    code = "not_a_points_contest"
    title = "Only points contests have a leaderboard and a draw"


class ContestStillOpen(Unprocessable):
    code = "contest_still_open"
    title = "The draw waits until entries are closed or the contest has ended"


class PrizeCampaignNotFound(Unprocessable):
    code = "prize_campaign_not_found"
    title = "A prize names a campaign that does not exist"


class PrizeCampaignCannotIssue(Unprocessable):
    """``reason``: ``campaign_ended`` or ``limit_reached`` (``offers.rules.issue_refusal``): its
    coupons could never be redeemed."""

    code = "prize_campaign_cannot_issue"
    title = "A prize names a campaign whose coupons could not be used"
