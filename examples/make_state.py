"""Generate ``examples/state.json``: a fictional integrated care system judged against the 2024/25 rulebook.

Run ``python examples/make_state.py`` to (re)write ``state.json`` next to this file; ``--check`` exits 1 if the
committed file differs. Everything is computed with integer/Fraction arithmetic from the anchors below (no
randomness, no floating-point arithmetic), so every run produces byte-identical JSON.

How a monthly series is described: ``path(anchors, season)`` interpolates linearly between anchor months and adds
a calendar-month offset (``season``, indexed January..December). Every seasonal profile has a March offset of 0,
so a March anchor is the exact March value: the March 2024 and March 2025 figures the rules read are the anchors.
Proportions are written in tenths of a percent (``746`` = 74.6%) and turned into numerator/denominator counts.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

AS_OF = "2025-05-15"
FIRST = "2023-04"  # most series run 2023-04 .. 2025-03 (two financial years)
LAST = "2025-03"
ICB = "QEX"
PCN = "UEX001"
REGION = "Midlands"

Obs = dict[str, Any]
Series = dict[str, int]

# --------------------------------------------------------------------------- calendar and series helpers


def _index(month: str) -> int:
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def months(first: str = FIRST, last: str = LAST) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive, as YYYY-MM."""
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(_index(first), _index(last) + 1)]


def path(
    anchors: Mapping[str, int],
    season: Sequence[int] | None = None,
    first: str = FIRST,
    last: str = LAST,
) -> Series:
    """Piecewise-linear through ``anchors`` (flat outside them) plus the calendar-month ``season`` offset."""
    points = sorted((_index(m), Fraction(v)) for m, v in anchors.items())
    out: Series = {}
    for month in months(first, last):
        i = _index(month)
        if i <= points[0][0]:
            base = points[0][1]
        elif i >= points[-1][0]:
            base = points[-1][1]
        else:
            (i0, v0), (i1, v1) = next((a, b) for a, b in itertools.pairwise(points) if a[0] <= i <= b[0])
            base = v0 + (v1 - v0) * (i - i0) / (i1 - i0)
        offset = season[int(month[5:]) - 1] if season else 0
        out[month] = round(base + offset)
    return out


def volume(
    base: int, season: Sequence[int] | None = None, growth: int = 0, first: str = FIRST, last: str = LAST
) -> Series:
    """Monthly counts: ``base`` x season (per mille, January..December) x ``growth`` per mille a year from ``first``."""
    out: Series = {}
    for month in months(first, last):
        factor = Fraction(season[int(month[5:]) - 1], 1000) if season else Fraction(1)
        trend = 1 + Fraction(growth * (_index(month) - _index(first)), 12_000)
        out[month] = round(base * factor * trend)
    return out


def prop(denominators: Series, tenths: Series, skip: Sequence[str] = ()) -> list[Obs]:
    """Proportion observations over the months both series have: numerator = denominator x percentage (tenths of
    a percent), rounded."""
    return [
        {"period": m, "numerator": round(Fraction(denominators[m] * tenths[m], 1000)), "denominator": denominators[m]}
        for m in sorted(set(denominators) & set(tenths))
        if m not in skip
    ]


def ratio(denominators: Series, means: Series) -> list[Obs]:
    """Rate observations whose ratio is ``means`` exactly: numerator = denominator x mean."""
    return [{"period": m, "numerator": d * means[m], "denominator": d} for m, d in sorted(denominators.items())]


def values(series: Series, skip: Sequence[str] = ()) -> list[Obs]:
    return [{"period": m, "value": v} for m, v in sorted(series.items()) if m not in skip]


def constant(value: int, first: str = FIRST, last: str = LAST) -> Series:
    return dict.fromkeys(months(first, last), value)


def explicit(first: str, numbers: Sequence[int]) -> Series:
    """A series given month by month from ``first``."""
    start = _index(first)
    return {f"{(start + k) // 12:04d}-{(start + k) % 12 + 1:02d}": v for k, v in enumerate(numbers)}


def add(*series: Series) -> Series:
    """Month-wise sum over the months every series has."""
    common = set.intersection(*(set(s) for s in series))
    return {m: sum(s[m] for s in series) for m in sorted(common)}


def total_obs(*obs_lists: list[Obs]) -> list[Obs]:
    """Month-wise sum of numerator/denominator observations (a system total of its providers)."""
    sums: dict[str, list[int]] = {}
    for obs in obs_lists:
        for o in obs:
            s = sums.setdefault(o["period"], [0, 0, 0])
            s[0] += o["numerator"]
            s[1] += o["denominator"]
            s[2] += 1
    return [
        {"period": m, "numerator": n, "denominator": d} for m, (n, d, k) in sorted(sums.items()) if k == len(obs_lists)
    ]


# Seasonal profiles, January..December (March is always 0 for offsets, so March anchors are exact).
AE_VOLUME = (950, 900, 1000, 990, 1060, 1040, 1050, 990, 1000, 1010, 990, 1000)  # per mille
AE_4H = (-30, -15, 0, 10, 15, 10, 5, 10, 0, -10, -15, -35)  # tenths of a percentage point
AE_12H = (25, 10, 0, -10, -15, -15, -10, -10, -5, 5, 15, 30)  # tenths of a percentage point
CAT2_SECONDS = (420, 120, 0, -60, -120, -90, 60, -60, 0, 240, 300, 900)  # seconds
WINTER_DIP = (-20, -10, 0, 5, 10, 10, 5, 5, 0, -5, -10, -20)  # tenths of a point, generic
MILD = (-5, -3, 0, 2, 3, 3, 2, 2, 0, -2, -3, -5)
ACTIVITY = (1000, 960, 1000, 950, 1030, 1010, 1010, 900, 1000, 1040, 1040, 880)  # elective-type activity
BEDS = (10, 10, 0, -5, -10, -15, -20, -25, -15, 0, 5, 10)  # beds: winter escalation open, summer closures


# --------------------------------------------------------------------------- facts


def fact(name: str, value: bool | int | float | str, date: str, evidence: str) -> dict[str, Any]:
    return {"name": name, "value": value, "date": date, "evidence": evidence}


def facts_from(rows: Sequence[tuple[str, bool | int | float | str, str, str]]) -> list[dict[str, Any]]:
    return sorted((fact(*row) for row in rows), key=lambda f: (f["name"], f["date"]))


# Declarations every NHS trust in the example makes (overridden or dropped per trust below). Dates and evidence are
# fictional but shaped like board papers, committee minutes and submissions.
TRUST_DEFAULTS: dict[str, tuple[bool | int, str, str]] = {
    "lda_oliver_mcgowan_training_in_place": (
        True,
        "2024-05-23",
        "People committee 2024-05-23 item 6: Tier 1 and 2 roll-out",
    ),
    "psi_call_and_recall_delivered": (True, "2024-07-25", "Board paper 2024-07-25 item 11 (interface report)"),
    "psi_clear_points_of_contact_delivered": (True, "2024-07-25", "Board paper 2024-07-25 item 11 (interface report)"),
    "psi_complete_care_delivered": (True, "2024-07-25", "Board paper 2024-07-25 item 11 (interface report)"),
    "psi_designated_interface_lead_in_place": (True, "2024-04-18", "Executive committee minutes 2024-04-18"),
    "psi_onward_referrals_delivered": (True, "2024-07-25", "Board paper 2024-07-25 item 11 (interface report)"),
    "qs_lfpse_in_use": (True, "2024-04-01", "LFPSE go-live confirmation, patient safety team"),
    "qs_nhs_impact_improvement_plan_in_place": (True, "2024-10-31", "Board paper 2024-10-31 item 8"),
    "qs_nhs_impact_self_assessment_completed": (True, "2024-06-27", "Board paper 2024-06-27 item 7"),
    "qs_patient_safety_partners_on_governance_committees": (
        2,
        "2024-05-01",
        "Quality committee terms of reference 2024-05",
    ),
    "qs_psirf_implemented": (True, "2023-11-01", "Board paper 2023-10-26 item 9: PSIRF transition from 1 Nov 2023"),
    "qs_psirf_policy_and_plan_in_place": (True, "2023-10-26", "Board paper 2023-10-26 item 9"),
    "qs_qeia_process_embedded": (True, "2024-04-25", "Finance and performance committee 2024-04-25: CIP QEIA panel"),
    "sys_provider_collaboratives_joined": (1, "2024-04-01", "Provider collaborative agreement 2024-04-01"),
    "sys_system_plan_signed_off": (True, "2024-05-01", "Board paper 2024-05-01 item 4: 2024/25 operational plan"),
    "uec_key_metrics_recorded": (True, "2024-09-30", "Data quality report to audit committee 2024-09-30"),
    "uor_energy_procured_via_ccs": (True, "2024-04-01", "Estates and facilities report 2024-04 (CCS framework)"),
    "uor_national_mo_opportunities_delivered": (5, "2024-06-13", "Medicines optimisation committee 2024-06-13"),
    "wf_cstf_aligned": (True, "2024-06-20", "People committee 2024-06-20 item 5: CSTF alignment complete"),
    "wf_cstf_elearning_and_e_assessments_implemented": (True, "2024-10-01", "ESR/eLfH go-live notice 2024-10-01"),
    "wf_doctors_in_training_improvements_implemented": (True, "2024-08-07", "Guardian of safe working report 2024-08"),
    "wf_edi_six_high_impact_actions_embedded": (
        True,
        "2024-09-26",
        "Board paper 2024-09-26 item 10 (EDI annual report)",
    ),
    "wf_establishment_controls_in_place": (True, "2024-05-30", "Board paper 2024-05-30 item 6: vacancy control panel"),
    "wf_fit_and_proper_person_test_implemented": (
        True,
        "2024-03-28",
        "Board paper 2024-03-28 item 12 (FPPT annual return)",
    ),
    "wf_five_high_impact_actions_implemented": (True, "2024-11-28", "People committee 2024-11-28 item 4"),
    "wf_occupational_health_strategy_implemented": (True, "2024-07-18", "People committee 2024-07-18 item 7"),
    "wf_people_promise_retention_interventions_implemented": (True, "2024-11-28", "People committee 2024-11-28 item 4"),
    "wf_pregnancy_baby_loss_policy_implemented": (True, "2024-06-01", "HR policy PL-041 v1.0 effective 2024-06-01"),
    "wf_retention_self_assessment_completed": (
        True,
        "2024-05-16",
        "Retention hub self-assessment submitted 2024-05-16",
    ),
    "wf_sexual_safety_charter_actions_implemented": (True, "2024-09-26", "Board paper 2024-09-26 item 11"),
    "wf_work_schedules_in_advance": (True, "2024-08-07", "Medical staffing report 2024-08"),
}

# Facts for rules that do not apply to ambulance trusts.
NOT_FOR_AMBULANCE = {
    "wf_doctors_in_training_improvements_implemented",
    "wf_work_schedules_in_advance",
    "uor_national_mo_opportunities_delivered",
}


def trust_facts(
    org_type: str,
    overrides: Mapping[str, tuple[bool | int, str, str] | None] | None = None,
    extra: Sequence[tuple[str, bool | int | float | str, str, str]] = (),
) -> list[dict[str, Any]]:
    """The default declarations for a trust of ``org_type``, with ``overrides`` (None drops a fact)."""
    chosen = dict(TRUST_DEFAULTS)
    if org_type in ("mental_health_trust", "community_provider"):
        chosen.pop("uec_key_metrics_recorded")
    if org_type == "ambulance_trust":
        for name in NOT_FOR_AMBULANCE:
            chosen.pop(name)
    for name, row in (overrides or {}).items():
        if row is None:
            chosen.pop(name, None)
        else:
            chosen[name] = row
    rows = [(name, value, date, evidence) for name, (value, date, evidence) in chosen.items()]
    return facts_from([*rows, *extra])


# --------------------------------------------------------------------------- organisations


def acute_large() -> dict[str, Any]:
    """EXA: a large teaching trust with a Type 1 ED and a co-located Type 3 UTC.

    Misses 78% in March 2025 (all types 74.x%), but has the greatest Type 1 improvement (55.2% -> 63.9%).
    Still had 65-week waiters in September 2024; has not ended off-framework agency use.
    """
    t1 = volume(14_200, AE_VOLUME, growth=20)
    t3 = volume(7_000, AE_VOLUME, growth=20)
    t1_4h = path({"2023-04": 560, "2024-03": 552, "2025-03": 639}, AE_4H)
    t3_4h = path({"2023-04": 948, "2025-03": 950}, MILD)
    type1 = prop(t1, t1_4h)
    ae_all = total_obs(type1, prop(t3, t3_4h))
    t12 = path({"2023-04": 95, "2024-03": 108, "2025-03": 86}, AE_12H)
    beds = path({"2023-04": 1072, "2025-03": 1080}, BEDS)
    rtt65 = path({"2023-04": 310, "2024-03": 120, "2024-09": 14, "2025-03": 3})
    opex = volume(78_000, growth=30)
    pay = volume(50_000, growth=30)
    return {
        "id": "EXA",
        "name": "Example City Teaching Hospitals NHS Foundation Trust",
        "type": "acute_trust",
        "parent": ICB,
        "region": REGION,
        "services": ["mat_maternity_services", "mat_neonatal_unit", "type1_ae", "type3_ae"],
        "metrics": {
            "ae_4h_all": ae_all,
            "ae_4h_type1": type1,
            "ae_12h_type1": prop(t1, t12),
            "g_and_a_beds": values(beds),
            # flow: shorter ED stays and handovers, fewer delayed patients, but longer delays for those delayed
            "ae_time_in_dept_type1": ratio(t1, path({"2023-04": 296, "2024-03": 290, "2025-03": 268})),
            "patients_beyond_drd": values(path({"2023-04": 164, "2024-03": 158, "2025-03": 141})),
            "drd_delay_days": ratio(volume(640, growth=10), path({"2023-04": 5, "2024-03": 6, "2025-03": 7})),
            "ambulance_handover_time": ratio(volume(3_100, AE_VOLUME), path({"2023-04": 2580, "2025-03": 2160})),
            "elec_rtt_over_65wk_excl_exempt": values(rtt65),
            "uor_efficiency_savings_delivered": prop(opex, constant(25)),
            "cancer_fds_28day": prop(
                volume(3_100, ACTIVITY, growth=40), path({"2023-04": 752, "2024-03": 768, "2025-03": 794}, WINTER_DIP)
            ),
            "cancer_62day_combined": prop(
                volume(170, ACTIVITY, growth=30), path({"2023-04": 621, "2024-03": 655, "2025-03": 678}, WINTER_DIP)
            ),
            "diag_waiting_under_6wk": prop(
                volume(22_000, growth=30), path({"2023-04": 721, "2024-03": 752, "2025-03": 786}, WINTER_DIP)
            ),
            "uor_agency_spend_share_of_pay_bill": prop(pay, path({"2023-04": 36, "2025-03": 26})),
            "uor_generics_biosimilars_adoption": prop(volume(12_400), path({"2024-04": 850, "2025-03": 905})),
            "uor_off_framework_agency_shifts_not_signed_off": values(
                explicit("2024-04", [0, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
            ),
        },
        "facts": trust_facts(
            "acute_trust",
            overrides={
                "qs_patient_safety_partners_on_governance_committees": (3, "2024-09-01", "Quality committee 2024-09"),
                "sys_provider_collaboratives_joined": (
                    2,
                    "2024-04-01",
                    "Acute and specialised collaboratives, 2024-04",
                ),
            },
            extra=[
                (
                    "acute_frailty_days_per_week",
                    5,
                    "2024-10-01",
                    "Frailty SDEC operating model, Board paper 2024-09-26 item 6",
                ),
                (
                    "acute_frailty_hours_per_day",
                    10,
                    "2024-10-01",
                    "Frailty SDEC operating model, Board paper 2024-09-26 item 6",
                ),
                ("dig_epr_deployed", True, "2024-10-07", "EPR go-live report to Board 2024-10-31 item 5"),
                (
                    "dig_epr_outline_business_case_completed",
                    True,
                    "2022-11-10",
                    "OBC approved, Board 2022-11-10 item 8",
                ),
                ("g_and_a_beds_plan_2023_24", 1050, "2023-05-04", "2023/24 operating plan, bed model tab"),
                (
                    "mat_culture_plan_board_review",
                    True,
                    "2025-01-30",
                    "Board paper 2025-01-30 item 9 (maternity safety)",
                ),
                ("mat_mews_implemented", True, "2024-11-04", "Maternity safety champions report 2024-11"),
                ("mat_newtt2_implemented", True, "2024-09-02", "Neonatal governance minutes 2024-09-02"),
                ("pews_implemented", True, "2024-07-01", "Paediatric governance report 2024-07"),
                ("prev_fasp_guidance_implemented", True, "2024-05-20", "Antenatal screening board 2024-05-20"),
                ("sdec_days_per_week", 7, "2024-04-01", "UEC improvement plan 2024/25 p. 12"),
                ("sdec_hours_per_day", 12, "2024-04-01", "UEC improvement plan 2024/25 p. 12"),
                ("uor_ejob_planning_mu_level_baseline", 1, "2024-04-01", "E-job planning MU self-assessment 2024-04"),
                (
                    "uor_ejob_planning_mu_level_current",
                    2,
                    "2025-02-10",
                    "E-job planning MU level 2 attained 2025-02-10",
                ),
                ("uor_erostering_mu_level_baseline", 2, "2024-04-01", "E-rostering MU self-assessment 2024-04"),
                ("uor_erostering_mu_level_current", 3, "2024-11-20", "E-rostering MU level 3 attained 2024-11-20"),
                (
                    "uor_off_framework_agency_use_ended",
                    False,
                    "2024-08-02",
                    "Agency spend report to People committee 2024-08-02: two off-framework suppliers still in use",
                ),
                ("uor_planned_efficiency_pct", 2.6, "2024-05-01", "Board paper 2024-05-01 item 4: CIP 2.6% of opex"),
            ],
        ),
    }


def acute_over_80() -> dict[str, Any]:
    """EXB: a district general hospital whose Type 1 department is over 80% in March 2025 (81.6%)."""
    t1 = volume(6_400, AE_VOLUME, growth=15)
    t1_4h = path({"2023-04": 770, "2024-03": 789, "2025-03": 816}, AE_4H)
    type1 = prop(t1, t1_4h)
    t12 = path({"2023-04": 40, "2024-03": 42, "2025-03": 48}, AE_12H)
    beds = path({"2023-04": 488, "2025-03": 490}, BEDS)
    rtt65 = path({"2023-04": 85, "2024-03": 30, "2024-06": 0})
    opex = volume(34_000, growth=30)
    pay = volume(22_000, growth=30)
    return {
        "id": "EXB",
        "name": "Example Valley Hospitals NHS Trust",
        "type": "acute_trust",
        "parent": ICB,
        "region": REGION,
        "services": ["mat_maternity_services", "type1_ae"],
        "metrics": {
            # No Type 2/3 unit: every attendance is Type 1, so all types = Type 1.
            "ae_4h_all": type1,
            "ae_4h_type1": type1,
            "ae_12h_type1": prop(t1, t12),
            "g_and_a_beds": values(beds),
            "elec_rtt_over_65wk_excl_exempt": values(rtt65),
            "uor_efficiency_savings_delivered": prop(opex, constant(19)),
            "cancer_fds_28day": prop(
                volume(1_500, ACTIVITY, growth=40), path({"2023-04": 731, "2024-03": 748, "2025-03": 762}, WINTER_DIP)
            ),
            "cancer_62day_combined": prop(
                volume(95, ACTIVITY, growth=30), path({"2023-04": 688, "2024-03": 712, "2025-03": 741}, WINTER_DIP)
            ),
            "diag_waiting_under_6wk": prop(
                volume(9_500, growth=30), path({"2023-04": 842, "2024-03": 861, "2025-03": 880}, WINTER_DIP)
            ),
            "uor_agency_spend_share_of_pay_bill": prop(pay, path({"2023-04": 24, "2025-03": 16})),
            "uor_generics_biosimilars_adoption": prop(volume(5_300), path({"2024-04": 720, "2025-03": 790})),
            "uor_off_framework_agency_shifts_not_signed_off": values(constant(0, "2024-04", LAST)),
        },
        "facts": trust_facts(
            "acute_trust",
            overrides={
                "wf_cstf_aligned": (True, "2024-09-12", "People committee 2024-09-12 item 3: CSTF alignment complete"),
                "wf_cstf_elearning_and_e_assessments_implemented": (
                    False,
                    "2024-10-31",
                    "People committee 2024-10-31: e-assessments postponed to 2025/26 (ESR migration)",
                ),
                "qs_patient_safety_partners_on_governance_committees": (
                    1,
                    "2024-12-01",
                    "Quality committee 2024-12: one partner in post, second vacancy out to advert",
                ),
                "wf_work_schedules_in_advance": None,
            },
            extra=[
                ("acute_frailty_days_per_week", 7, "2024-06-03", "Board paper 2024-05-30 item 8 (UEC plan)"),
                ("acute_frailty_hours_per_day", 10, "2024-06-03", "Board paper 2024-05-30 item 8 (UEC plan)"),
                (
                    "dig_epr_deployed",
                    False,
                    "2025-03-31",
                    "Digital programme board 2025-03-31: go-live re-planned for October 2025",
                ),
                (
                    "dig_epr_outline_business_case_completed",
                    True,
                    "2023-09-01",
                    "OBC approved, Board 2023-08-31 item 10",
                ),
                ("g_and_a_beds_plan_2023_24", 480, "2023-05-04", "2023/24 operating plan, bed model tab"),
                ("mat_culture_plan_board_review", True, "2024-12-05", "Board paper 2024-12-05 item 7 (maternity)"),
                ("mat_newtt2_implemented", True, "2024-10-14", "Maternity and neonatal safety report 2024-10"),
                ("pews_implemented", True, "2024-04-01", "Paediatric governance report 2024-04"),
                ("prev_fasp_guidance_implemented", True, "2024-06-17", "Antenatal screening board 2024-06-17"),
                ("sdec_days_per_week", 7, "2024-04-01", "UEC plan 2024/25"),
                ("sdec_hours_per_day", 14, "2024-04-01", "UEC plan 2024/25"),
                ("uor_ejob_planning_mu_level_baseline", 2, "2024-04-01", "E-job planning MU self-assessment 2024-04"),
                (
                    "uor_ejob_planning_mu_level_current",
                    3,
                    "2025-03-20",
                    "E-job planning MU level 3 attained 2025-03-20",
                ),
                ("uor_erostering_mu_level_baseline", 1, "2024-04-01", "E-rostering MU self-assessment 2024-04"),
                ("uor_erostering_mu_level_current", 1, "2025-03-31", "E-rostering MU year-end reassessment 2025-03-31"),
                ("uor_off_framework_agency_use_ended", True, "2024-06-14", "Agency controls report 2024-06-14"),
                ("uor_planned_efficiency_pct", 2.2, "2024-05-01", "Board paper 2024-05-01 item 5: CIP 2.2% of opex"),
            ],
        ),
    }


def acute_no_type1() -> dict[str, Any]:
    """EXC: an elective orthopaedic trust running an urgent treatment centre (Type 3) but no Type 1 department."""
    utc = volume(4_100, AE_VOLUME, growth=25)
    utc_4h = path({"2023-04": 958, "2024-03": 955, "2025-03": 961}, MILD)
    opex = volume(9_500, growth=30)
    pay = volume(5_800, growth=30)
    return {
        "id": "EXC",
        "name": "Example Orthopaedic and Urgent Care NHS Foundation Trust",
        "type": "acute_trust",
        "parent": ICB,
        "region": REGION,
        "services": ["type3_ae"],
        "metrics": {
            "ae_4h_all": prop(utc, utc_4h),
            # No cancer pathways, so no cancer waiting times; diagnostics are mostly orthopaedic MRI.
            "diag_waiting_under_6wk": prop(
                volume(3_200, growth=30), path({"2023-04": 952, "2024-03": 958, "2025-03": 964}, MILD)
            ),
            "g_and_a_beds": values(path({"2023-04": 62, "2025-03": 64})),
            "elec_rtt_over_65wk_excl_exempt": values(path({"2023-04": 40, "2024-03": 6, "2024-08": 0})),
            "uor_efficiency_savings_delivered": prop(opex, constant(26)),
            "uor_agency_spend_share_of_pay_bill": prop(pay, constant(12)),
            "uor_generics_biosimilars_adoption": prop(volume(1_900), constant(910, "2024-04", LAST)),
            "uor_off_framework_agency_shifts_not_signed_off": values(constant(0, "2024-04", LAST)),
        },
        "facts": trust_facts(
            "acute_trust",
            extra=[
                (
                    "dig_epr_deployed",
                    True,
                    "2025-04-07",
                    "EPR go-live announcement 2025-04-07 (Board 2025-04-24 item 4)",
                ),
                (
                    "dig_epr_outline_business_case_completed",
                    True,
                    "2023-05-18",
                    "OBC approved, Board 2023-05-18 item 6",
                ),
                ("pews_implemented", True, "2024-05-13", "Clinical governance committee 2024-05-13"),
                ("uor_ejob_planning_mu_level_baseline", 2, "2024-04-01", "E-job planning MU self-assessment 2024-04"),
                (
                    "uor_ejob_planning_mu_level_current",
                    3,
                    "2024-12-09",
                    "E-job planning MU level 3 attained 2024-12-09",
                ),
                ("uor_erostering_mu_level_baseline", 3, "2024-04-01", "E-rostering MU self-assessment 2024-04"),
                ("uor_erostering_mu_level_current", 4, "2025-01-15", "E-rostering MU level 4 attained 2025-01-15"),
                ("uor_off_framework_agency_use_ended", True, "2024-05-01", "Agency controls report 2024-05-01"),
                ("uor_planned_efficiency_pct", 2.4, "2024-05-01", "Board paper 2024-05-01 item 3"),
            ],
        ),
    }


def ambulance() -> dict[str, Any]:
    """EXR: the regional ambulance service (hosted by QEX). Category 2 mean over 2024/25 is about 35 minutes."""
    incidents = volume(24_000, AE_VOLUME, growth=20)
    mean = path({"2023-04": 2220, "2024-03": 2040, "2025-03": 1980}, CAT2_SECONDS)
    opex = volume(28_000, growth=30)
    pay = volume(20_000, growth=30)
    return {
        "id": "EXR",
        "name": "Example Ambulance Service NHS Trust",
        "type": "ambulance_trust",
        "parent": ICB,
        "region": REGION,
        "metrics": {
            "cat2_response": ratio(incidents, mean),
            # hours on the road held at or above the January-March 2024 level all year
            "ambulance_vehicle_hours": values(
                path({"2023-04": 29_000, "2024-01": 32_000, "2024-03": 32_000, "2024-04": 32_100, "2025-03": 32_800})
            ),
            "uor_efficiency_savings_delivered": prop(opex, constant(23)),
            "uor_agency_spend_share_of_pay_bill": prop(pay, constant(8)),
            "uor_off_framework_agency_shifts_not_signed_off": values(constant(0, "2024-04", LAST)),
        },
        "facts": trust_facts(
            "ambulance_trust",
            overrides={
                "wf_cstf_elearning_and_e_assessments_implemented": (
                    True,
                    "2024-11-14",
                    "ESR/eLfH go-live notice 2024-11-14",
                ),
            },
            extra=[
                ("ambulance_culture_review_implemented", True, "2024-07-25", "Trust board 2024-07-25 item 6"),
                (
                    "dig_epr_outline_business_case_completed",
                    False,
                    "2024-04-01",
                    "Digital strategy 2024-27 p. 9: electronic patient care record already live, no EHR OBC",
                ),
                ("uor_erostering_mu_level_baseline", 2, "2024-04-01", "E-rostering MU self-assessment 2024-04"),
                ("uor_erostering_mu_level_current", 3, "2025-04-10", "E-rostering MU level 3 attained 2025-04-10"),
                ("uor_ejob_planning_mu_level_baseline", 1, "2024-04-01", "E-job planning MU self-assessment 2024-04"),
                (
                    "uor_ejob_planning_mu_level_current",
                    2,
                    "2024-12-02",
                    "E-job planning MU level 2 attained 2024-12-02",
                ),
                ("uor_off_framework_agency_use_ended", True, "2024-09-20", "Agency controls report 2024-09-20"),
                ("uor_planned_efficiency_pct", 2.2, "2024-05-02", "Board paper 2024-05-02 item 6"),
            ],
        ),
    }


def mental_health() -> dict[str, Any]:
    """EXM: the mental health and learning disability trust. Its July 2024 off-framework return is missing."""
    opex = volume(24_000, growth=30)
    pay = volume(17_500, growth=30)
    return {
        "id": "EXM",
        "name": "Example Mental Health and Wellbeing NHS Foundation Trust",
        "type": "mental_health_trust",
        "parent": ICB,
        "region": REGION,
        "metrics": {
            "uor_efficiency_savings_delivered": prop(opex, constant(20)),
            "uor_agency_spend_share_of_pay_bill": prop(pay, path({"2023-04": 52, "2025-03": 39})),
            "uor_generics_biosimilars_adoption": prop(volume(2_600), constant(820, "2024-04", LAST)),
            "uor_off_framework_agency_shifts_not_signed_off": values(constant(0, "2024-04", LAST), skip=["2024-07"]),
        },
        "facts": trust_facts(
            "mental_health_trust",
            extra=[
                ("mh_pcref_implemented", True, "2025-02-27", "Board paper 2025-02-27 item 8 (PCREF)"),
                ("uor_ejob_planning_mu_level_baseline", 1, "2024-04-01", "E-job planning MU self-assessment 2024-04"),
                (
                    "uor_ejob_planning_mu_level_current",
                    2,
                    "2025-03-03",
                    "E-job planning MU level 2 attained 2025-03-03",
                ),
                ("uor_erostering_mu_level_baseline", 2, "2024-04-01", "E-rostering MU self-assessment 2024-04"),
                ("uor_erostering_mu_level_current", 3, "2024-10-21", "E-rostering MU level 3 attained 2024-10-21"),
                ("uor_off_framework_agency_use_ended", True, "2024-07-31", "Agency controls report 2024-07-31"),
                ("uor_planned_efficiency_pct", 1.8, "2024-05-02", "Board paper 2024-05-02 item 5: CIP 1.8% of opex"),
            ],
        ),
    }


def community() -> dict[str, Any]:
    """EXK: the community health services trust. No generics data; no off-framework declaration."""
    opex = volume(15_000, growth=30)
    pay = volume(11_500, growth=30)
    return {
        "id": "EXK",
        "name": "Example Community Health Services NHS Trust",
        "type": "community_provider",
        "parent": ICB,
        "region": REGION,
        "metrics": {
            # community bed length of stay rose (not met)
            "community_bed_los": ratio(volume(310), path({"2023-04": 24, "2024-03": 25, "2025-03": 27})),
            "uor_efficiency_savings_delivered": prop(opex, constant(24)),
            "uor_agency_spend_share_of_pay_bill": prop(pay, constant(18)),
            "uor_off_framework_agency_shifts_not_signed_off": values(constant(0, "2024-04", LAST)),
        },
        "facts": trust_facts(
            "community_provider",
            extra=[
                (
                    "dig_epr_outline_business_case_completed",
                    False,
                    "2024-04-01",
                    "Digital strategy 2024-27: community EPR already live across all services",
                ),
                ("uor_ejob_planning_mu_level_baseline", 1, "2024-04-01", "E-job planning MU self-assessment 2024-04"),
                (
                    "uor_ejob_planning_mu_level_current",
                    2,
                    "2024-09-16",
                    "E-job planning MU level 2 attained 2024-09-16",
                ),
                ("uor_erostering_mu_level_baseline", 2, "2024-04-01", "E-rostering MU self-assessment 2024-04"),
                ("uor_erostering_mu_level_current", 3, "2024-12-16", "E-rostering MU level 3 attained 2024-12-16"),
                ("uor_planned_efficiency_pct", 2.4, "2024-05-02", "Board paper 2024-05-02 item 4"),
            ],
        ),
    }


def practice_good() -> dict[str, Any]:
    """PEX001: a large practice that meets its QOF-style targets and has improved access."""
    return {
        "id": "PEX001",
        "name": "Riverside Medical Practice",
        "type": "gp_practice",
        "parent": ICB,
        "pcn": PCN,
        "region": REGION,
        "metrics": {
            "lda_annual_health_check": prop(constant(62), path({"2023-04": 690, "2024-03": 790, "2025-03": 806})),
            "lda_ahc_health_action_plan": prop(
                explicit(FIRST, [3, 4, 4, 5, 3, 5, 6, 6, 4, 7, 8, 9] * 2), constant(1000)
            ),
            "mh_smi_physical_health_check": prop(constant(130), path({"2023-04": 580, "2024-03": 640, "2025-03": 662})),
            "prev_cyp_vaccination_uptake": prop(constant(45), path({"2023-04": 911, "2024-03": 911, "2025-03": 933})),
            "prev_hypertension_treated_to_target": prop(constant(2000), path({"2023-04": 770, "2025-03": 804})),
            "prev_cvd_risk_lipid_lowering": prop(constant(420), path({"2023-04": 620, "2025-03": 662})),
            "pc_gp_appts_within_14_days_of_booking": prop(
                volume(7_000, ACTIVITY), path({"2023-04": 850, "2024-03": 852, "2025-03": 872}, MILD)
            ),
        },
        "facts": facts_from(
            [
                (
                    "pc_gp_routine_appointment_within_2_weeks",
                    True,
                    "2024-10-01",
                    "Practice access statement 2024-10-01",
                ),
                ("pc_gp_urgent_assessed_same_or_next_day", True, "2024-04-01", "Practice access statement 2024-04-01"),
                ("pc_mgpa_cloud_telephony_with_callback", True, "2024-02-12", "Cloud telephony go-live 2024-02-12"),
                ("pc_mgpa_digital_tools_in_use", True, "2024-06-03", "MGPA transition cover declaration 2024-06-03"),
            ]
        ),
    }


def practice_struggling() -> dict[str, Any]:
    """PEX002: a smaller practice under pressure: below target on most measures, routine access not yet 2 weeks."""
    return {
        "id": "PEX002",
        "name": "Hillview Surgery",
        "type": "gp_practice",
        "parent": ICB,
        "pcn": PCN,
        "region": REGION,
        "metrics": {
            "lda_annual_health_check": prop(constant(41), path({"2023-04": 610, "2024-03": 660, "2025-03": 683})),
            "lda_ahc_health_action_plan": prop(
                explicit(FIRST, [2, 2, 3, 2, 3, 3, 4, 4, 3, 5, 6, 7] * 2), constant(850)
            ),
            "mh_smi_physical_health_check": prop(constant(80), path({"2023-04": 500, "2024-03": 540, "2025-03": 525})),
            "prev_cyp_vaccination_uptake": prop(constant(28), path({"2023-04": 857, "2024-03": 857, "2025-03": 821})),
            "prev_hypertension_treated_to_target": prop(constant(1250), path({"2023-04": 660, "2025-03": 680})),
            "prev_cvd_risk_lipid_lowering": prop(constant(260), path({"2023-04": 580, "2025-03": 596})),
            "pc_gp_appts_within_14_days_of_booking": prop(
                volume(4_200, ACTIVITY), path({"2023-04": 845, "2024-03": 842, "2025-03": 828}, MILD)
            ),
        },
        "facts": facts_from(
            [
                (
                    "pc_gp_routine_appointment_within_2_weeks",
                    False,
                    "2025-01-09",
                    "Practice access statement 2025-01-09: routine wait 3 weeks (two GP vacancies)",
                ),
                ("pc_gp_urgent_assessed_same_or_next_day", True, "2024-04-01", "Practice access statement 2024-04-01"),
                ("pc_mgpa_cloud_telephony_with_callback", True, "2024-09-23", "Cloud telephony go-live 2024-09-23"),
            ]
        ),
    }


def pcn() -> dict[str, Any]:
    """UEX001: the primary care network of the two practices (no rule applies to PCNs in this rulebook)."""
    return {"id": PCN, "name": "Example Central PCN", "type": "pcn", "parent": ICB, "region": REGION}


def icb(trusts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """QEX: the integrated care board. System metrics for a registered population of about 1.3 million.

    Workforce/finance metrics are the sums over its NHS providers (plus the ICB's own running costs for efficiency);
    G&A beds are the sum over its three acute trusts. Gaps: cancer staging for January-March 2025 (not yet
    published), RTT validation before June 2024 (collection began then), the under-18 inpatient rate (suppressed:
    small numbers), and no MHIS declaration yet (the independent review reports after the year end).
    """
    by_id = {t["id"]: t for t in trusts}
    acute = [by_id[i] for i in ("EXA", "EXB", "EXC")]
    own_opex = volume(5_000, growth=30)
    efficiency = total_obs(
        prop(own_opex, constant(30)), *(t["metrics"]["uor_efficiency_savings_delivered"] for t in trusts)
    )
    agency = total_obs(*(t["metrics"]["uor_agency_spend_share_of_pay_bill"] for t in trusts))
    beds = add(*({o["period"]: o["value"] for o in t["metrics"]["g_and_a_beds"]} for t in acute))
    rtt65 = add(*({o["period"]: o["value"] for o in t["metrics"]["elec_rtt_over_65wk_excl_exempt"]} for t in acute))
    fy2425 = months("2024-04", LAST)
    fds_2023_24 = [748, 759, 762, 739, 718, 744, 756, 735, 709, 761, 772, 764]  # 70.9% to 77.2%: range 6.3 points
    fds_2024_25 = [760, 771, 768, 754, 749, 763, 770, 758, 741, 766, 779, 783]  # 74.1% to 78.3%: range 4.2 points
    fds = explicit(FIRST, [*fds_2023_24, *fds_2024_25])
    vwa_baseline = volume(52_000_000, ACTIVITY)
    vwa_pct = path({"2023-04": 1020, "2024-03": 1050, "2025-03": 1110})
    return {
        "id": ICB,
        "name": "NHS Example Integrated Care Board",
        "type": "icb",
        "region": REGION,
        "metrics": {
            # cancer
            "cancer_fds_28day": prop(volume(5_800, ACTIVITY, growth=40), fds),
            "cancer_62day_combined": prop(
                volume(340, ACTIVITY, growth=30), path({"2023-04": 648, "2024-03": 682, "2025-03": 712}, WINTER_DIP)
            ),
            "cancer_62day_backlog": values(
                path({"2023-04": 560, "2024-03": 421, "2025-03": 398}, (30, 10, 0, -10, -20, -10, 0, 10, 0, 10, 20, 40))
            ),
            "cancer_stage_1_2": prop(
                volume(520, growth=10, last="2024-12"),
                path({"2023-04": 574, "2024-03": 578, "2024-12": 585}, last="2024-12"),
            ),
            "cancer_lgi_referrals_with_fit": prop(
                volume(1_100, ACTIVITY, growth=50), path({"2023-04": 690, "2025-03": 780})
            ),
            # diagnostics
            "diag_waiting_under_6wk": prop(
                volume(42_000, growth=30), path({"2023-04": 742, "2024-03": 776, "2025-03": 812}, WINTER_DIP)
            ),
            "diag_usc_reported_within_10d": prop(
                volume(4_000, ACTIVITY, growth=40), path({"2023-04": 870, "2025-03": 925})
            ),
            # elective
            "elec_vwa_baseline_value": values(vwa_baseline),
            "elec_vwa_delivered_value": values(
                {m: round(Fraction(v * vwa_pct[m], 1000)) for m, v in vwa_baseline.items()}
            ),
            "elec_day_case_rate": prop(volume(5_500, ACTIVITY), path({"2023-04": 838, "2024-03": 848, "2025-03": 862})),
            "elec_theatre_utilisation": prop(volume(1_150_000, ACTIVITY), path({"2023-04": 771, "2025-03": 806})),
            "elec_op_pathway_completing": prop(
                volume(190_000, ACTIVITY, first="2022-04"),
                path({"2022-04": 415, "2023-03": 421, "2023-09": 428, "2025-03": 478}, first="2022-04"),
            ),
            "elec_rtt_12wk_validated": prop(
                volume(62_000, growth=-40, first="2024-06"), path({"2024-06": 842, "2025-03": 931}, first="2024-06")
            ),
            "elec_rtt_over_65wk_excl_exempt": values(rtt65),
            # learning disability and autism
            "lda_annual_health_check": prop(
                volume(5_300, growth=25), path({"2023-04": 721, "2024-03": 774, "2025-03": 779}, MILD)
            ),
            "lda_ahc_health_action_plan": prop(
                explicit(FIRST, [210, 260, 300, 320, 290, 340, 390, 410, 330, 520, 610, 760] * 2),
                path({"2023-04": 820, "2025-03": 872}),
            ),
            "lda_adult_inpatient_rate": ratio(constant(1), path({"2023-04": 35, "2024-03": 31, "2025-03": 27})),
            "lda_autistic_inpatients": values(path({"2023-04": 21, "2024-03": 19, "2024-09": 17, "2025-03": 19})),
            "lda_ld_inpatients": values(path({"2023-04": 16, "2024-03": 14, "2025-03": 11})),
            "lda_gp_ld_register_size": values(path({"2023-04": 6_180, "2024-03": 6_310, "2025-03": 6_480})),
            # maternity
            "mat_maternity_staff_fill_rate": prop(
                constant(1420), path({"2023-04": 902, "2024-03": 914, "2025-03": 931})
            ),
            "mat_personalised_care_plan_offered": prop(
                volume(1_150, (980, 900, 1010, 970, 1020, 990, 1060, 1050, 1040, 1030, 970, 980)),
                path({"2023-04": 951, "2025-03": 986}),
            ),
            # mental health
            "mh_smi_physical_health_check": prop(
                volume(12_500, growth=20), path({"2023-04": 542, "2024-03": 598, "2025-03": 615}, MILD)
            ),
            "mh_dementia_diagnosis": prop(volume(14_000, growth=15), path({"2023-04": 628, "2025-03": 639}, MILD)),
            "mh_tt_course_completions": values(
                path({"2023-04": 1_650, "2025-03": 1_880}, (80, 60, 0, -60, -20, 0, -40, -160, 20, 60, 70, -140))
            ),
            "mh_tt_reliable_improvement": prop(volume(1_760), path({"2023-04": 664, "2025-03": 688})),
            "mh_tt_reliable_recovery": prop(volume(1_620), path({"2023-04": 462, "2025-03": 474})),
            "mh_inappropriate_oap_bed_days": values(path({"2023-04": 360, "2024-03": 300, "2025-03": 190})),
            "mh_adult_acute_los": ratio(constant(150), path({"2023-04": 55, "2024-03": 53, "2025-03": 50})),
            "mh_cyp_ed_within_standard": prop(constant(30), path({"2023-04": 767, "2025-03": 833})),
            "mh_adult_community_mh_access": values(path({"2023-04": 11_900, "2024-03": 13_400, "2025-03": 14_850})),
            "mh_perinatal_mh_access": values(path({"2023-04": 980, "2024-03": 1_090, "2025-03": 1_180})),
            "mh_cyp_mh_access": values(path({"2023-04": 27_600, "2024-03": 29_300, "2025-03": 31_200})),
            # prevention and inequalities
            "prev_hypertension_treated_to_target": prop(
                volume(180_000, growth=15), path({"2023-04": 664, "2024-03": 695, "2025-03": 712}, MILD)
            ),
            "prev_cvd_risk_lipid_lowering": prop(volume(38_000, growth=20), path({"2023-04": 598, "2025-03": 631})),
            "prev_cyp_vaccination_uptake": prop(volume(4_100), path({"2023-04": 885, "2024-03": 883, "2025-03": 877})),
            "prev_antibiotics_watch_reserve": prop(
                volume(60_000, (1150, 1050, 1000, 950, 900, 850, 820, 800, 880, 980, 1050, 1200)),
                path({"2023-04": 216, "2024-03": 213, "2025-03": 205}),
            ),
            # primary care and community services
            "pc_cyp_community_waits_over_52_weeks": values(path({"2023-04": 350, "2024-03": 410, "2025-03": 468})),
            "pc_dental_udas_delivered": values(
                path(
                    {"2023-04": 262_000, "2024-03": 276_000, "2025-03": 286_000},
                    (5000, 2000, 0, -9000, 3000, 1000, -4000, -6000, 2000, 4000, 3000, -12000),
                )
            ),
            # urgent and emergency care
            "g_and_a_beds": values(beds),
            "intermediate_care_capacity": values(path({"2023-04": 1_820, "2024-03": 1_900, "2025-03": 2_040})),
            "virtual_ward_occupancy": prop(
                constant(180),
                path(
                    {"2023-04": 650, "2024-03": 740, "2025-03": 800},
                    (60, 40, 0, -40, -50, -60, -70, -80, -40, 0, 20, 50),
                ),
            ),
            "ucr_referrals": values(
                path(
                    {"2023-04": 1_330, "2024-03": 1_480, "2025-03": 1_690},
                    (60, 20, 0, -20, -10, -30, -40, -50, -20, 10, 40, 80),
                )
            ),
            # use of resources
            "uor_efficiency_savings_delivered": efficiency,
            "uor_agency_spend_share_of_pay_bill": agency,
            "uor_generics_biosimilars_adoption": prop(
                volume(41_000, first="2024-04"), path({"2024-04": 812, "2025-03": 868}, first="2024-04")
            ),
            "uor_bg_ketone_meter_prescribing_in_guidance": prop(volume(23_000), path({"2023-04": 790, "2025-03": 846})),
            "uor_system_net_financial_position": values(
                dict(
                    zip(
                        fy2425,
                        [-4_800, -4_100, -3_600, -2_900, -2_300, -1_700, -900, -400, 300, 900, 1_400, 1_700],
                        strict=True,
                    )
                )
            ),
        },
        "facts": facts_from(ICB_FACTS),
    }


ICB_FACTS: list[tuple[str, bool | int | float | str, str, str]] = [
    # cancer
    ("cancer_breast_pain_pathway_established", True, "2024-09-12", "Cancer Alliance board 2024-09-12 item 4"),
    ("cancer_hrt_bleeding_pathway_established", True, "2024-11-07", "Cancer Alliance board 2024-11-07 item 5"),
    ("cancer_tlhc_capacity_sufficient", True, "2024-10-03", "ICB Board 2024-10-03 paper 9 (TLHC capacity review)"),
    (
        "cancer_key_services_funding_transferred",
        True,
        "2024-04-01",
        "ICB contract schedule 2024/25 (Alliance transfer)",
    ),
    (
        "cancer_mcbt_participating_area",
        False,
        "2024-04-01",
        "NHS-Galleri programme site list 2024: not a participating area",
    ),
    ("cancer_radiotherapy_replacement_plans", True, "2024-05-30", "System capital plan 2024-29, annex C"),
    ("cancer_sact_demand_capacity_assessment", True, "2024-12-05", "Cancer Alliance SACT review 2024-12-05"),
    (
        "cancer_screening_colonoscopy_capacity_increased",
        False,
        "2025-02-06",
        "Screening oversight group 2025-02-06: endoscopy business case deferred to 2025/26",
    ),
    ("cancer_screening_in_plans", True, "2024-05-02", "2024/25 operational plan submission 2024-05-02"),
    ("cancer_screening_uptake_initiatives", True, "2024-07-04", "ICB Board 2024-07-04 paper 11 (screening)"),
    ("cancer_teledermatology_adoption_accelerated", True, "2024-08-01", "Cancer Alliance skin pathway report 2024-08"),
    ("cancer_nurse_led_biopsy_implemented", True, "2024-06-06", "Cancer Alliance urology pathway report 2024-06"),
    # diagnostics
    ("diag_cdc_openings_complete", True, "2025-01-20", "CDC programme board 2025-01-20: final CDC open"),
    (
        "diag_acute_imaging_endoscopy_capacity_open",
        False,
        "2025-03-31",
        "Diagnostics programme board 2025-03-31: second endoscopy suite opens June 2025",
    ),
    ("diag_digital_investments_complete", True, "2025-03-06", "Imaging network report 2025-03-06 (LIMS live)"),
    ("diag_gp_direct_access_expanded", True, "2024-07-01", "Primary care commissioning committee 2024-07-01"),
    ("diag_gp_direct_access_cancer_symptoms", True, "2024-07-01", "Primary care commissioning committee 2024-07-01"),
    (
        "diag_gp_direct_access_spirometry_feno_ntprobnp",
        True,
        "2024-11-04",
        "Respiratory and heart failure pathway 2024-11",
    ),
    # digital
    ("dig_wgll_assessment_used", True, "2024-05-16", "WGLL digital maturity assessment 2024-05-16"),
    ("dig_fdp_implementation_prioritised", True, "2024-09-05", "ICB Board 2024-09-05 paper 14 (FDP)"),
    ("dig_nhs_app_services_connected", True, "2024-06-06", "Digital strategy delivery report 2024-06"),
    ("dig_cyber_security_plan_in_place", True, "2024-12-12", "ICB Board 2024-12-12 paper 10 (cyber strategy)"),
    # elective
    ("elec_vwa_system_target_pct", 112, "2024-05-02", "2024/25 operational plan submission 2024-05-02 (VWA 112%)"),
    ("elec_choice_5_providers_offered", True, "2024-12-05", "Elective board 2024-12-05 (patient survey Q3)"),
    (
        "elec_ag_referral_approach_established",
        True,
        "2024-06-06",
        "Elective board 2024-06-06 (A&G and referral optimisation)",
    ),
    # learning disability and autism
    ("lda_workforce_plan_developed", True, "2024-10-10", "LDA programme board 2024-10-10"),
    ("lda_autism_assessment_framework_implemented", True, "2024-11-14", "LDA programme board 2024-11-14"),
    ("lda_reasonable_adjustment_flag_supported", True, "2024-08-08", "LDA programme board 2024-08-08"),
    # maternity and women's health
    ("mat_womens_health_hubs", 2, "2024-10-01", "Women's health hubs launch report, ICB Board 2024-10-03 paper 8"),
    ("mat_three_year_plan_implementing", True, "2024-06-06", "LMNS board 2024-06-06"),
    ("mat_safety_ambition_progress", True, "2025-03-13", "LMNS board 2025-03-13 (safety dashboard)"),
    ("mat_inequalities_actions_in_place", True, "2024-07-11", "LMNS equity and equality action plan 2024-07"),
    ("mat_obstetric_safe_staffing_agreed", True, "2024-09-12", "LMNS board 2024-09-12"),
    ("mat_safety_package_supported", True, "2024-06-06", "LMNS board 2024-06-06"),
    ("mat_family_hubs_universal_services", True, "2024-11-21", "Health and wellbeing board 2024-11-21"),
    # mental health
    ("mh_111_option2_monitoring_in_place", True, "2024-09-16", "MH crisis line performance dashboard live 2024-09-16"),
    (
        "mh_community_services_review_done",
        True,
        "2024-11-28",
        "MH programme board 2024-11-28 (community services review)",
    ),
    (
        "mh_inpatient_3yr_plan_published",
        False,
        "2025-03-20",
        "MH programme board 2025-03-20: plan in draft, publication planned for 2025/26 Q2",
    ),
    ("mh_adult_community_mh_access_plan", 15_600, "2024-05-02", "2024/25 operational plan submission 2024-05-02"),
    ("mh_perinatal_mh_access_plan", 1_250, "2024-05-02", "2024/25 operational plan submission 2024-05-02"),
    ("mh_cyp_mh_access_plan", 30_500, "2024-05-02", "2024/25 operational plan submission 2024-05-02"),
    ("mh_tt_completions_plan", 22_800, "2024-05-02", "2024/25 operational plan submission 2024-05-02"),
    ("mh_workforce_plan_in_place", True, "2024-08-08", "MH programme board 2024-08-08"),
    ("mh_digital_technology_embedded", True, "2024-12-12", "MH programme board 2024-12-12"),
    ("mh_mhsds_data_quality_improving", True, "2024-10-10", "MHSDS data quality report 2024-10"),
    ("mh_long_waits_local_plan", True, "2024-07-11", "MH programme board 2024-07-11"),
    # prevention and inequalities
    (
        "prev_health_inequalities_plan_published",
        True,
        "2024-06-26",
        "Health inequalities action plan, published 2024-06-26",
    ),
    ("prev_core20plus5_delivering", True, "2024-06-26", "Health inequalities action plan 2024-06-26 section 3"),
    ("prev_mmr_improvement_plan_implemented", True, "2024-03-14", "MMR improvement plan agreed with NHSE 2024-03-14"),
    ("prev_vaccination_commissioning_arrangements", True, "2024-04-01", "Collaboration agreement with NHSE 2024-04-01"),
    ("prev_cyp_vaccination_uptake_plans", True, "2024-09-05", "Immunisation board 2024-09-05"),
    ("prev_jcvi_programme_plans", True, "2024-09-05", "Immunisation board 2024-09-05 (RSV and autumn programmes)"),
    (
        "prev_oct_diabetic_eye_screening_implemented",
        False,
        "2025-01-15",
        "Screening oversight group 2025-01-15: OCT procurement in progress",
    ),
    ("prev_scid_screening_supported", True, "2024-09-01", "Newborn screening evaluation site letter 2024-09"),
    ("prev_chis_it_supported", True, "2024-10-10", "CHIS contract review 2024-10-10"),
    (
        "prev_workforce_inequalities_capability",
        True,
        "2024-06-26",
        "Health inequalities action plan 2024-06-26 section 6",
    ),
    ("prev_prevention_plans_in_jfp", True, "2024-07-18", "Joint forward plan refresh 2024-07-18, chapter 4"),
    ("prev_inequalities_funding_use_demonstrated", True, "2024-12-12", "ICB Board 2024-12-12 paper 12"),
    # primary care and community services
    ("pc_primary_care_demand_capacity_understood", True, "2024-07-04", "ICB Board 2024-07-04 paper 13 (demand model)"),
    ("pc_icb_board_reviews_primary_care_access", True, "2025-03-06", "ICB Board 2025-03-06 paper 7 (access recovery)"),
    ("pc_community_waiting_times_plan_developed", True, "2024-09-05", "ICB Board 2024-09-05 paper 10"),
    (
        "pc_special_schools_sight_tests_implemented",
        False,
        "2025-03-31",
        "Primary care commissioning committee 2025-03-31: provider procurement not complete",
    ),
    ("pc_special_schools_dental_checks_implemented", True, "2025-01-13", "Community dental service go-live 2025-01-13"),
    ("pc_community_services_pcn_alignment_improved", True, "2024-11-07", "Community services review 2024-11-07"),
    ("pc_dental_udas_pre_pandemic_baseline", 3_920_000, "2024-04-01", "NHSBSA dental activity 2019/20, ICB total"),
    # primary-secondary interface
    ("psi_icb_board_reviews_interface_progress", True, "2025-02-06", "ICB Board 2025-02-06 paper 9 (interface)"),
    ("psi_integrated_care_coordination_in_place", True, "2024-12-01", "Care co-ordination hub go-live 2024-12-01"),
    # quality and safety
    ("qs_nhs_impact_self_assessment_completed", True, "2024-07-11", "ICB Board 2024-07-11 paper 6"),
    ("qs_nhs_impact_improvement_plan_in_place", True, "2024-10-10", "ICB Board 2024-10-10 paper 8"),
    ("qs_qeia_process_embedded", True, "2024-04-04", "ICB QEIA policy v3, 2024-04-04"),
    ("qs_patient_safety_partners_on_governance_committees", 2, "2024-05-01", "Quality committee ToR 2024-05"),
    # system working
    (
        "sys_infrastructure_strategy_developed",
        True,
        "2024-07-25",
        "ICB Board 2024-07-25 paper 5 (infrastructure strategy)",
    ),
    ("sys_jfp_published", True, "2024-07-18", "Joint forward plan refresh published 2024-07-18"),
    ("sys_jfp_workforce_plan_included", True, "2024-07-18", "Joint forward plan refresh 2024-07-18, chapter 7"),
    ("sys_system_architecture_plan_3yr", True, "2024-10-03", "ICB Board 2024-10-03 paper 6"),
    ("sys_system_plan_signed_off", True, "2024-05-02", "ICB Board 2024-05-02 paper 4"),
    ("sys_vcse_development_plan", True, "2024-06-06", "VCSE alliance memorandum 2024-06-06"),
    # urgent and emergency care
    ("g_and_a_beds_plan_2023_24", 1_594, "2023-05-04", "2023/24 operating plan, system bed model"),
    ("system_coordination_centre_in_place", True, "2024-04-01", "SCC operating model 2024-04"),
    ("d2a_model_implemented", True, "2024-10-01", "Discharge programme board 2024-10-01"),
    ("discharge_fund_reviewed", True, "2024-09-19", "Joint ICB/LA Better Care Fund review 2024-09-19"),
    ("uec_high_impact_initiatives_progressed", True, "2024-12-12", "UEC board 2024-12-12: HII self-assessment"),
    ("care_transfer_hubs_improved", True, "2024-11-01", "Care transfer hub review 2024-11"),
    # use of resources
    ("uor_planned_efficiency_pct", 2.3, "2024-05-02", "2024/25 system financial plan 2024-05-02"),
    ("uor_icb_off_framework_governance_in_place", True, "2024-05-09", "ICB finance committee 2024-05-09"),
    ("uor_national_mo_opportunities_delivered", 6, "2024-06-13", "ICB medicines optimisation committee 2024-06-13"),
    ("uor_acute_productivity_analysis_completed", True, "2024-09-05", "ICB Board 2024-09-05 paper 12 (productivity)"),
    # workforce
    ("wf_clinical_expansion_plans_agreed", True, "2024-08-01", "Clinical expansion plan agreed with NHSE 2024-08-01"),
    ("wf_clinical_placements_sufficient", True, "2025-03-14", "People board 2025-03-14 (placements review)"),
    ("wf_edi_six_high_impact_actions_embedded", True, "2024-09-05", "ICB Board 2024-09-05 paper 15 (EDI)"),
    (
        "wf_education_places_share_delivered",
        False,
        "2025-04-30",
        "People board 2025-04-30: 88% of the 2024/25 education places share delivered",
    ),
    ("wf_fit_and_proper_person_test_implemented", True, "2024-03-28", "ICB Board 2024-03-28 (FPPT return)"),
    ("wf_sexual_safety_charter_actions_implemented", True, "2024-07-11", "ICB Board 2024-07-11 paper 9"),
]

DESCRIPTION = (
    "A fictional integrated care system (NHS Example Integrated Care Board, QEX, registered population about 1.3 "
    "million, adult population about 1.0 million) seen on 15 May 2025, after the 2024/25 year has closed. "
    "Organisations: three acute trusts (EXA a large teaching trust with a Type 1 ED and a co-located UTC; EXB a "
    "district general hospital whose Type 1 department exceeds 80%; EXC an elective orthopaedic trust with an "
    "urgent treatment centre but no Type 1 department), an ambulance trust (EXR), a mental health trust (EXM), a "
    "community provider (EXK), a PCN (UEX001) and two of its practices (PEX001, PEX002). Names, codes and figures "
    "are invented; the codes are ODS-shaped only. Monthly metrics cover April 2023 to March 2025 (April 2022 for "
    "the outpatient baseline); ICB workforce and finance metrics are the sums over its providers. Deliberate gaps, "
    "so some outcomes are honestly unknown: cancer staging for January to March 2025 is not yet published; RTT "
    "validation was only collected from June 2024; the under-18 learning disability and autism inpatient rate is "
    "suppressed (small numbers); the MHIS declaration awaits the independent review; EXC has no 2023/24 G&A bed "
    "plan line and, running no cancer pathways, reports no cancer waiting times (the trust-level cancer standards "
    "have no guard, so they are unknown for it rather than not applicable); EXM has not declared whether it has an "
    "EPR outline business case and its July 2024 off-framework agency return is missing; EXK reports no "
    "generics/biosimilars data and has made no off-framework agency declaration. The adult inpatient rate's "
    "denominator is the adult population in whole millions (1). Generated by examples/make_state.py."
)


COHORTS = [
    {
        "scope": "national",
        "types": ["acute_trust"],
        "source": "made-up example: its fictional England has only these three acute trusts, so the Type 1 A&E "
        "incentive's national ranking of greatest improvement is among them (a real state declares this only when "
        "built from a national file, e.g. the monthly A&E provider CSV)",
        "date": "2025-05-08",
    }
]
"""The example declares its acute trusts a complete national cohort (a fiction, said in its source)."""


def build_state() -> dict[str, Any]:
    """The whole example state as a JSON-compatible dict."""
    trusts = [acute_large(), acute_over_80(), acute_no_type1(), ambulance(), mental_health(), community()]
    organisations = [icb(trusts), *trusts, pcn(), practice_good(), practice_struggling()]
    return {"as_of": AS_OF, "description": DESCRIPTION, "cohorts": COHORTS, "organisations": organisations}


def render(state: Mapping[str, Any]) -> str:
    """The committed text: pretty-printed, sorted keys, UTF-8, trailing newline."""
    return json.dumps(state, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


TARGET = Path(__file__).resolve().with_name("state.json")


def main(argv: Sequence[str] = ()) -> int:
    text = render(build_state())
    if "--check" in argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is out of date: run python examples/make_state.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
