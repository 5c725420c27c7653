"""Device power profiles for the device-cloud simulator: real replays and shaped series.

Pure numpy/pandas/stdlib. ``load_real_profiles(folder)`` reads the real series shipped under
``data/real/`` once; ``device_power(device, start, end, resolution_s, profiles)`` gives one
device's readings on the grid [start, end) with step ``resolution_s``.

Conventions
-----------
- ``power_w`` is offtake positive: consumption and battery charging are positive, PV
  production and battery discharging are negative. A reading at ``ts`` stands for
  [ts, ts + resolution_s): replays give the source interval that contains ``ts``, EV chargers
  the mean over the interval, PV the value at ``ts``, batteries the controller's 60-s step.
- Timestamps come back as ``numpy.datetime64[s]`` values in UTC (numpy has no time zone: read
  them as UTC). The grid is aligned to multiples of ``resolution_s`` since the Unix epoch (the
  first point is ``start`` rounded up), so any two windows give the same timestamps, and the
  grid is contiguous in UTC on daylight-saving days too (23 or 25 local hours).
- Deterministic: every random draw is a hash of the device (or site), the date and the
  timestamp, never of the requested window. The same device at the same instant always has the
  same value, whatever window or page it is asked in; different devices differ.

What is real and what is shaped (see ``data/SOURCES.md``)
---------------------------------------------------------
- ``heat_pump``: real. One of the 4 Eastern Docklands heat pumps (``heat_pump_nl``, 5 min),
  scaled so its peak equals the device's rated power.
- ``other``: real. One of 56 Liander Zonnedael households (15 min) or the WPuQ SFH19 house,
  scaled so its peak equals the rated power.
- ``ev_charger``: shaped. Sessions drawn from Caltech ACN-Data statistics (hard-coded below),
  charged at the rated power or the car's lower limit.
- ``pv_inverter``: shaped. Clear-sky power ``rated x sin(solar elevation)`` at 52.1 N, 5.1 E,
  times a cloud factor drawn from the Belgian PV data's day-to-day variation.
- ``battery``: shaped controller over real and shaped inputs. A self-consumption controller
  charges from a shaped PV surplus and discharges to cover a real household load.

Replaying a real series on any date
-----------------------------------
A replayed series covers a few weeks (heat pumps: local days 2020-01-02..2020-02-14;
Zonnedael: 2013-01-01..2013-03-31; WPuQ: 2024-01-02..2024-03-31). A requested instant is
turned into Europe/Amsterdam wall-clock time (local date + time of day). The local date is
mapped onto a source date with the same weekday whose day of the year is nearest (on a
365-day circle, ties to the earlier date); then the device's week shift (0-5, from a hash of
its id) moves that many weeks further, wrapping around within the same-weekday dates of the
period. The reading is the source value at the same wall-clock time on the source date. So a
date inside the period with week shift 0 replays itself at the real timestamps. Daylight
saving: on the requested side, the spring gap hour never occurs and both passes through the
repeated autumn hour replay the same source hour. On the source side a wall-clock time that
does not exist (02:00-02:59 on a spring-forward day) is read with the standard offset, i.e.
the value of 03:00-03:59 summer time (Python's ``fold=0``).

Daylight saving in the Zonnedael file: timestamps are naive Dutch wall-clock time and every day
has 96 rows, so 2013-03-31 02:00-02:45 (which did not exist) is present. Those 4 rows are
upstream fill-ins (copies of 01:30/01:45 within 2 Wh) and are dropped when the file is turned
into a UTC series. A regularised autumn day (one copy of the repeated hour) would leave a
one-hour hole in UTC, which the loader fills with the hour before (the file has no autumn
day). The heat-pump file misses 247 readings (31329: 2020-01-02 12:30 and 2020-01-16
00:15-05:25 UTC; 40322: 2020-01-23 03:00-18:00 and 2020-01-24 13:05-13:10 UTC); each is filled
with the same heat pump's value 24 h earlier.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_FOLDER = Path(__file__).resolve().parent.parent / "data" / "real"
HEAT_PUMP_FILE = Path("heat_pump_nl") / "hp_2020_5min_2020-01-01_2020-02-14.csv"
ZONNEDAEL_FILE = Path("household_nl_zonnedael") / "liander_zonnedael_2013Q1_15min_Wh.csv"
WPUQ_FILE = Path("household_de_wpuq") / "SFH19_2024Q1_15min_kW.csv"

#: Seconds between readings a device cloud reports per device type.
NATIVE_RESOLUTION_S = {
    "heat_pump": 300,
    "other": 900,
    "ev_charger": 60,
    "pv_inverter": 60,
    "battery": 60,
}
DEVICE_TYPES = tuple(NATIVE_RESOLUTION_S)

DAY_S = 86_400
WEEK_SHIFTS = 6  # a replay moves 0..5 weeks within its data period
GAP_BLOCK_S = 300  # ``gap_rate`` drops readings in 5-minute blocks (a lost connection)

# ----------------------------------------------------------------------------------------------
# Statistics hard-coded from datasets that may not be shipped (their rows are not copied).

#: Caltech ACN-Data, site "caltech", 775 sessions with connectionTime 2021-05-01..2021-06-30
#: (/work/shared/data/ev_sessions_acn): sessions per arrival hour (America/Los_Angeles local
#: time, hours 0..23). Used as Europe/Amsterdam local arrival hours.
ACN_ARRIVALS_PER_HOUR = (
    2, 3, 1, 0, 0, 3, 28, 37, 85, 48, 52, 44,
    52, 52, 76, 45, 49, 36, 49, 45, 37, 21, 4, 6,
)  # fmt: skip
#: ACN: 775 sessions on 30 stations over 61 days = 0.42 sessions per charger per day.
ACN_SESSIONS_PER_DAY = 0.42
#: ACN quantiles (probability, value): stay = disconnectTime - connectionTime in hours (one
#: session of 26.0 h is capped to 24 h) and kWhDelivered per session.
ACN_QUANTILES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
ACN_STAY_H = (0.04, 0.32, 0.44, 0.65, 0.82, 1.03, 1.34, 1.87, 2.96, 4.68, 7.32, 8.9, 24.0)
ACN_KWH = (0.61, 0.9, 1.29, 2.85, 5.05, 6.3, 8.52, 11.6, 15.74, 23.09, 33.69, 41.26, 77.7)
#: Assumption, not from data: the car's on-board charger limit (kW, weight). A session charges
#: at min(rated power, car limit).
CAR_LIMIT_KW = ((3.7, 0.15), (7.4, 0.35), (11.0, 0.50))

#: Belgian PV, two homes, Q1 2024 (/work/shared/data/pv_battery_be): daily energy divided by
#: the best day of the same month, pooled over both homes (182 days), at these quantiles. It
#: is the day's clearness; the two homes' daily values correlate at 0.98, so it is one regional
#: value per date here.
PV_CLEARNESS_QUANTILES = (0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0)
PV_CLEARNESS = (0.001, 0.078, 0.126, 0.236, 0.45, 0.696, 0.824, 0.895, 1.0)
#: PV site for the solar geometry (De Bilt, NL).
PV_LATITUDE_DEG = 52.1
PV_LONGITUDE_DEG = 5.1
#: Clear-sky power = rated x PV_CLEAR_SKY_FACTOR x sin(elevation). With 1.0 the clear-day peak
#: on 27 January is 0.33 x rated and on 25 March 0.64 x rated: a ratio of 0.51, where the
#: Belgian homes' best January and best March days peak at 0.96/1.84 = 0.52 and
#: 1.50/2.99 = 0.50 kW/kW. Summer noon gives 0.88 x rated.
PV_CLEAR_SKY_FACTOR = 1.0

# Battery controller: 2 h capacity and 10-90 % state of charge as specified for the
# simulator; the rest are assumptions.
BATTERY_HOURS = 2.0  # capacity = 2 h x rated power
SOC_MIN, SOC_MAX = 0.10, 0.90
BATTERY_STEP_S = 60
_STEP_H = BATTERY_STEP_S / 3600
BATTERY_WARMUP_S = 12 * 3600  # each local day is simulated from noon the day before
BATTERY_WARMUP_SOC = 0.5
BATTERY_PV_RATIO = 1.5  # the site's PV array behind the battery: 1.5 x battery rated power


# ----------------------------------------------------------------------------------------------
# Real series


@dataclass(frozen=True, eq=False)
class Series:
    """One real series in UTC: value ``i`` is the mean power (W) over interval ``i``."""

    name: str
    start_s: int  # UTC epoch seconds of the first interval
    resolution_s: int
    values_w: np.ndarray  # float64, read-only
    first_day: int  # first and last Europe/Amsterdam local day fully covered (days since epoch)
    last_day: int

    @property
    def peak_w(self) -> float:
        """Largest value of the series."""
        return float(self.values_w.max())

    @property
    def timeline(self) -> tuple[int, int, int, int, int]:
        """What the replay index depends on (series of the same file share it)."""
        return (self.start_s, self.resolution_s, len(self.values_w), self.first_day, self.last_day)

    def times(self) -> np.ndarray:
        """Start of every interval, ``datetime64[s]`` UTC."""
        n = len(self.values_w)
        return (self.start_s + self.resolution_s * np.arange(n)).astype("datetime64[s]")


@dataclass(frozen=True, eq=False)
class RealProfiles:
    """The shipped real series: 4 heat pumps and 57 households (56 Zonnedael + WPuQ SFH19)."""

    heat_pumps: tuple[Series, ...]
    households: tuple[Series, ...]


_LOAD_LOCK = threading.Lock()
_LOADED: dict[Path, RealProfiles] = {}


def load_real_profiles(folder: Path = DEFAULT_FOLDER) -> RealProfiles:
    """Read the shipped files under ``folder`` once per process (later calls reuse them)."""
    key = Path(folder).resolve()
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = RealProfiles(
                heat_pumps=_read_heat_pumps(key / HEAT_PUMP_FILE),
                households=(*_read_zonnedael(key / ZONNEDAEL_FILE), _read_wpuq(key / WPUQ_FILE)),
            )
        return _LOADED[key]


def _epoch_seconds(values: pd.Series) -> np.ndarray:
    """Epoch seconds of a datetime column (naive = wall clock as if UTC)."""
    return values.to_numpy(dtype="datetime64[s]").astype(np.int64)


def _series(name: str, start_s: int, resolution_s: int, values_w: np.ndarray) -> Series:
    values = np.ascontiguousarray(values_w, dtype=np.float64)
    values.flags.writeable = False
    end_s = start_s + resolution_s * len(values)
    local_start = start_s + int(amsterdam_offset_s(np.array([start_s]))[0])
    local_end = end_s + int(amsterdam_offset_s(np.array([end_s]))[0])
    first_day = -(-local_start // DAY_S)
    last_day = local_end // DAY_S - 1
    return Series(name, start_s, resolution_s, values, first_day, last_day)


def _fill_from_lag(values: np.ndarray, lag: int) -> None:
    """Fill NaNs in place with the value ``lag`` steps earlier (negative: later), repeatedly."""
    index = np.arange(len(values))
    while True:
        source = index - lag
        fillable = np.isnan(values) & (source >= 0) & (source < len(values))
        fillable[fillable] &= ~np.isnan(values[source[fillable]])
        if not fillable.any():
            return
        values[fillable] = values[source[fillable]]


def _read_heat_pumps(path: Path) -> tuple[Series, ...]:
    """4 heat pumps, 5-min Wh in UTC -> W on a complete grid; gaps take the value 24 h before."""
    frame = pd.read_csv(path, dtype={"id": str})
    seconds = _epoch_seconds(pd.to_datetime(frame["datetime"], utc=True).dt.tz_localize(None))
    step = 300
    start, end = int(seconds.min()), int(seconds.max()) + step
    out = []
    for device in sorted(frame["id"].unique()):
        rows = (frame["id"] == device).to_numpy()
        values = np.full((end - start) // step, np.nan)
        values[(seconds[rows] - start) // step] = frame.loc[rows, "consumption"].to_numpy() * 12
        _fill_from_lag(values, DAY_S // step)
        _fill_from_lag(values, -DAY_S // step)
        out.append(_series(f"heat_pump_nl/{device}", start, step, values))
    return tuple(out)


def _read_zonnedael(path: Path) -> tuple[Series, ...]:
    """56 households, 15-min Wh in naive Dutch wall-clock time -> W in UTC (see module doc)."""
    frame = pd.read_csv(path)
    local = _epoch_seconds(pd.to_datetime(frame["datetime"], format="%d-%m-%Y %H:%M"))
    utc = amsterdam_local_to_utc(local)
    exists = utc + amsterdam_offset_s(utc) == local  # False for the spring-forward hour
    step = 900
    start, end = int(utc[exists].min()), int(utc[exists].max()) + step
    slots = (utc[exists] - start) // step
    out = []
    for column in frame.columns[1:]:
        values = np.full((end - start) // step, np.nan)
        values[slots] = frame[column].to_numpy(dtype=np.float64)[exists] * 4
        _fill_from_lag(values, 3600 // step)  # the second pass of a repeated autumn hour
        name = "household_nl_zonnedael/" + column.replace(" ", "_")
        out.append(_series(name, start, step, values))
    return tuple(out)


def _read_wpuq(path: Path) -> Series:
    """WPuQ SFH19, 15-min average kW in UTC -> W."""
    frame = pd.read_csv(path)
    seconds = _epoch_seconds(pd.to_datetime(frame["datetime"], utc=True).dt.tz_localize(None))
    step = 900
    start, end = int(seconds.min()), int(seconds.max()) + step
    values = np.full((end - start) // step, np.nan)
    values[(seconds - start) // step] = frame.iloc[:, 1].to_numpy(dtype=np.float64) * 1000
    _fill_from_lag(values, DAY_S // step)
    return _series("household_de_wpuq/SFH19", start, step, values)


# ----------------------------------------------------------------------------------------------
# Europe/Amsterdam without per-value zoneinfo calls (EU rule, valid from 1996)


@lru_cache(maxsize=256)
def _summer_time_utc(year: int) -> tuple[int, int]:
    """UTC epoch seconds at which summer time starts and ends: last Sundays of March/October."""

    def last_sunday_1am_utc(month: int) -> int:
        last = date(year, month, 31)
        sunday = last - timedelta(days=(last.weekday() + 1) % 7)
        return (sunday - date(1970, 1, 1)).days * DAY_S + 3600

    return last_sunday_1am_utc(3), last_sunday_1am_utc(10)


def _summer_bounds(seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    years = seconds.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
    unique, inverse = np.unique(years, return_inverse=True)
    bounds = np.array([_summer_time_utc(int(y)) for y in unique], dtype=np.int64).reshape(-1, 2)
    return bounds[inverse, 0], bounds[inverse, 1]


def amsterdam_offset_s(utc_s: np.ndarray) -> np.ndarray:
    """UTC offset in seconds (3600 or 7200) of Europe/Amsterdam at UTC epoch seconds."""
    utc_s = np.asarray(utc_s, dtype=np.int64)
    start, end = _summer_bounds(utc_s)
    return np.where((utc_s >= start) & (utc_s < end), 7200, 3600)


def amsterdam_local_to_utc(local_s: np.ndarray) -> np.ndarray:
    """UTC epoch seconds of Amsterdam wall-clock times (given as epoch seconds, naive).

    Like ``zoneinfo`` with ``fold=0``: a repeated autumn time is its first (summer-time)
    occurrence, a spring-forward time that does not exist gets the standard offset (+01:00).
    """
    local_s = np.asarray(local_s, dtype=np.int64)
    start, end = _summer_bounds(local_s)
    summer = (local_s >= start + 7200) & (local_s < end + 7200)
    return local_s - np.where(summer, 7200, 3600)


# ----------------------------------------------------------------------------------------------
# Hashing: deterministic draws per (key, counter), independent of any window

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@lru_cache(maxsize=65_536)
def stable_hash(*parts: str | int) -> int:
    """A 64-bit hash of ``parts`` that is the same in every process (unlike ``hash``)."""
    text = "\x1f".join(str(part) for part in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


_S30, _S27, _S31, _S11, _S32 = (np.uint64(n) for n in (30, 27, 31, 11, 32))
_LOW32 = np.uint64(0xFFFFFFFF)


def _mix(seed: int, counter: np.ndarray) -> np.ndarray:
    """Splitmix64 of ``seed + counter x golden``: one well-mixed 64-bit value per counter."""
    x = np.asarray(counter).astype(np.uint64) * _GOLDEN
    x += np.uint64(seed)
    x ^= x >> _S30
    x *= _MIX1
    x ^= x >> _S27
    x *= _MIX2
    x ^= x >> _S31
    return x


def _uniform(seed: int, counter: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) per counter."""
    return (_mix(seed, counter) >> _S11).astype(np.float64) * 2.0**-53


def _unit_noise(seed: int, counter: np.ndarray) -> np.ndarray:
    """Zero-mean noise with standard deviation 1 (triangular, bounded by +/-2.45) per counter."""
    x = _mix(seed, counter)
    low = (x & _LOW32).astype(np.float64)
    high = (x >> _S32).astype(np.float64)
    return ((low + high) * 2.0**-32 - 1.0) * math.sqrt(6.0)


def _at_knots(seed: int, knots: np.ndarray) -> np.ndarray:
    """``_uniform(seed, knots)`` for sorted ``knots``, hashing each distinct knot once."""
    if len(knots) == 0:
        return np.zeros(0)
    first = int(knots[0])
    return _uniform(seed, np.arange(first, int(knots[-1]) + 1))[knots - first]


def _smooth_noise(seed: int, seconds: np.ndarray, period_s: int) -> np.ndarray:
    """Value noise in [-1, 1]: seeded knots every ``period_s`` joined by smoothstep."""
    knot = seconds // period_s
    fraction = (seconds - knot * period_s) / period_s
    weight = fraction * fraction * (3.0 - 2.0 * fraction)
    first = int(knot[0]) if len(knot) else 0
    values = 2.0 * _uniform(seed, np.arange(first, int(knot[-1]) + 2 if len(knot) else 0)) - 1.0
    a = values[knot - first]
    b = values[knot - first + 1]
    return a + (b - a) * weight


# ----------------------------------------------------------------------------------------------
# Time grids


@dataclass(frozen=True, eq=False)
class _Grid:
    key: tuple[int, int, int]
    ts: np.ndarray  # int64 UTC epoch seconds, read-only
    local: np.ndarray  # int64 Europe/Amsterdam wall-clock seconds, read-only


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@lru_cache(maxsize=128)
def _grid(start_s: int, end_s: int, resolution_s: int) -> _Grid:
    first = -(-start_s // resolution_s) * resolution_s
    ts = np.arange(first, max(first, end_s), resolution_s, dtype=np.int64)
    local = ts + amsterdam_offset_s(ts)
    return _Grid((start_s, end_s, resolution_s), _readonly(ts), _readonly(local))


def _aware_seconds(moment: datetime, name: str) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
    return math.ceil(moment.timestamp())


def grid_length(start: datetime, end: datetime, resolution_s: int) -> int:
    """How many readings ``device_power`` gives for [start, end) at ``resolution_s``."""
    start_s, end_s = _aware_seconds(start, "start"), _aware_seconds(end, "end")
    first = -(-start_s // resolution_s) * resolution_s
    return max(0, -(-(end_s - first) // resolution_s))


# ----------------------------------------------------------------------------------------------
# Replay of real series


@dataclass(frozen=True)
class ReplayChoice:
    """Which real series a device replays and how many weeks it is shifted in the period."""

    series: int
    week_shift: int


def replay_choice(key: str, n_series: int) -> ReplayChoice:
    """The series and week shift for ``key`` (a device or site id), from a stable hash."""
    h = stable_hash("replay", key)
    return ReplayChoice(series=h % n_series, week_shift=(h // n_series) % WEEK_SHIFTS)


def _day_of_year(day: int) -> int:
    return (date(1970, 1, 1) + timedelta(days=day)).timetuple().tm_yday


@lru_cache(maxsize=16_384)
def _source_day(day: int, first: int, last: int, week_shift: int) -> int:
    """Epoch-day version of ``map_to_data_period``."""
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    first_match = first + (weekday - (first + 3) % 7) % 7
    candidates = list(range(first_match, last + 1, 7))
    if not candidates:
        raise ValueError("a data period must be at least a week long")
    target = _day_of_year(day)

    def distance(candidate: int) -> tuple[int, int]:
        gap = abs(_day_of_year(candidate) - target)
        return min(gap, 365 - gap), candidate

    nearest = candidates.index(min(candidates, key=distance))
    return candidates[(nearest + week_shift) % len(candidates)]


def map_to_data_period(day: date, first: date, last: date, week_shift: int = 0) -> date:
    """The source date replayed for local date ``day`` (see the module doc)."""
    epoch = date(1970, 1, 1)
    source = _source_day((day - epoch).days, (first - epoch).days, (last - epoch).days, week_shift)
    return epoch + timedelta(days=source)


@lru_cache(maxsize=512)
def _replay_index(
    grid_key: tuple[int, int, int], timeline: tuple[int, int, int, int, int], week_shift: int
) -> np.ndarray:
    """Index into a series (of ``timeline``) for every grid point."""
    grid = _grid(*grid_key)
    start_s, resolution_s, n, first_day, last_day = timeline
    days = grid.local // DAY_S
    unique, inverse = np.unique(days, return_inverse=True)
    mapped = np.array(
        [_source_day(int(d), first_day, last_day, week_shift) for d in unique], dtype=np.int64
    )
    source_local = mapped[inverse] * DAY_S + (grid.local - days * DAY_S)
    index = (amsterdam_local_to_utc(source_local) - start_s) // resolution_s
    return _readonly(np.clip(index, 0, n - 1).astype(np.int32))


def _replay(family: tuple[Series, ...], key: str, grid: _Grid) -> tuple[Series, np.ndarray]:
    """The chosen series of ``family`` for ``key`` and its values (W, unscaled) on ``grid``."""
    choice = replay_choice(key, len(family))
    series = family[choice.series]
    if len(grid.ts) == 0:
        return series, np.zeros(0)
    return series, series.values_w[_replay_index(grid.key, series.timeline, choice.week_shift)]


def replayed_series(device: Mapping[str, str], profiles: RealProfiles) -> Series:
    """The real series a ``heat_pump`` or ``other`` device replays (a battery: its household)."""
    kind = device["device_type"]
    if kind == "heat_pump":
        family = profiles.heat_pumps
        return family[replay_choice(device["device_id"], len(family)).series]
    if kind == "other":
        family = profiles.households
        return family[replay_choice(device["device_id"], len(family)).series]
    if kind == "battery":
        family = profiles.households
        return family[replay_choice("site:" + device["site_id"], len(family)).series]
    raise ValueError(f"a {kind} device replays no real series")


# ----------------------------------------------------------------------------------------------
# Shaped: PV


def sin_solar_elevation(ts: np.ndarray) -> np.ndarray:
    """Sine of the sun's elevation at 52.1 N, 5.1 E for UTC epoch seconds (NOAA's formulas)."""
    ts = np.asarray(ts, dtype=np.int64)
    day_start = ts // DAY_S * DAY_S
    doy = ts.astype("datetime64[s]").astype("datetime64[D]") - ts.astype("datetime64[s]").astype(
        "datetime64[Y]"
    )
    hours = (ts - day_start) / 3600.0
    gamma = 2.0 * np.pi / 365.0 * (doy.astype(np.float64) + (hours - 12.0) / 24.0)
    declination = (
        0.006918
        - 0.399912 * np.cos(gamma)
        + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma)
        + 0.000907 * np.sin(2 * gamma)
        - 0.002697 * np.cos(3 * gamma)
        + 0.00148 * np.sin(3 * gamma)
    )
    equation_of_time_min = 229.18 * (
        0.000075
        + 0.001868 * np.cos(gamma)
        - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma)
        - 0.040849 * np.sin(2 * gamma)
    )
    solar_minutes = hours * 60.0 + equation_of_time_min + 4.0 * PV_LONGITUDE_DEG
    hour_angle = np.radians(solar_minutes / 4.0 - 180.0)
    latitude = math.radians(PV_LATITUDE_DEG)
    value = math.sin(latitude) * np.sin(declination) + math.cos(latitude) * np.cos(
        declination
    ) * np.cos(hour_angle)
    return value


def clear_sky_pv_fraction(ts: np.ndarray) -> np.ndarray:
    """Clear-sky PV output as a fraction of rated power at UTC epoch seconds (0 at night)."""
    return PV_CLEAR_SKY_FACTOR * np.maximum(sin_solar_elevation(ts), 0.0)


@lru_cache(maxsize=128)
def _clear_sky(grid_key: tuple[int, int, int]) -> np.ndarray:
    return _readonly(clear_sky_pv_fraction(_grid(*grid_key).ts))


def _pv_power(seed_key: str, rated_w: float, grid: _Grid) -> np.ndarray:
    """Shaped PV (negative): clear-sky bell x a cloud factor; 0 when the sun is down."""
    if len(grid.ts) == 0:
        return np.zeros(0)
    sun = _clear_sky(grid.key)
    days = grid.local // DAY_S
    # One regional clearness per local date (both Belgian homes agree at r = 0.98) ...
    regional = np.interp(
        _at_knots(stable_hash("pv-weather"), days), PV_CLEARNESS_QUANTILES, PV_CLEARNESS
    )
    # ... a little local variation per site and day, and clouds passing within the day.
    seed = stable_hash("pv", seed_key)
    clearness = np.clip(regional + 0.1 * (_at_knots(seed, days) - 0.5), 0.02, 1.0)
    passing = 0.7 * _smooth_noise(seed + 1, grid.ts, 1800) + 0.3 * _smooth_noise(
        seed + 2, grid.ts, 300
    )
    cloud = np.clip(clearness + 1.2 * clearness * (1.0 - clearness) * passing, 0.01, 1.0)
    return -rated_w * sun * cloud


# ----------------------------------------------------------------------------------------------
# Shaped: EV charging sessions


_ARRIVAL_CDF = np.concatenate(([0.0], np.cumsum(ACN_ARRIVALS_PER_HOUR))) / sum(
    ACN_ARRIVALS_PER_HOUR
)
_HOURS = np.arange(25.0)
_SESSION_COUNT_CDF = np.cumsum(
    [
        math.exp(-ACN_SESSIONS_PER_DAY) * ACN_SESSIONS_PER_DAY**k / math.factorial(k)
        for k in range(3)
    ]
).tolist()
_CAR_CDF = (np.cumsum([w for _, w in CAR_LIMIT_KW]) / sum(w for _, w in CAR_LIMIT_KW))[:-1].tolist()
_MAX_SESSIONS = 3


def _local_to_utc(local_s: int) -> int:
    """``amsterdam_local_to_utc`` for one value."""
    start, end = _summer_time_utc((date(1970, 1, 1) + timedelta(seconds=local_s)).year)
    return local_s - (7200 if start + 7200 <= local_s < end + 7200 else 3600)


@lru_cache(maxsize=65_536)
def _ev_candidates(device_id: str, day: int) -> tuple[tuple[int, int, float, float], ...]:
    """Plug-in sessions drawn for local day ``day``: (arrival, departure UTC s, kWh, car kW)."""
    rng = random.Random(stable_hash("ev", device_id, day))
    count = min(bisect.bisect_right(_SESSION_COUNT_CDF, rng.random()), _MAX_SESSIONS)
    sessions = []
    for _ in range(count):
        hour = float(np.interp(rng.random(), _ARRIVAL_CDF, _HOURS))  # linear within the hour
        arrival = _local_to_utc(day * DAY_S + int(hour * 3600))
        stay_s = float(np.interp(rng.random(), ACN_QUANTILES, ACN_STAY_H)) * 3600
        kwh = float(np.interp(rng.random(), ACN_QUANTILES, ACN_KWH))
        car_kw = CAR_LIMIT_KW[bisect.bisect_right(_CAR_CDF, rng.random())][0]
        sessions.append((arrival, arrival + int(stay_s), kwh, car_kw))
    return tuple(sorted(sessions))


@lru_cache(maxsize=65_536)
def _ev_sessions(device_id: str, day: int) -> tuple[tuple[int, int, float, float], ...]:
    """Candidates of ``day`` that overlap no candidate of the two days before or earlier today.

    Checking against candidates (kept or not) keeps a day's sessions independent of how far
    back anyone looks; stays are at most 24 h, so two days back is enough.
    """
    before = _ev_candidates(device_id, day - 2) + _ev_candidates(device_id, day - 1)
    kept = []
    today = _ev_candidates(device_id, day)
    for i, (arrival, departure, kwh, car_kw) in enumerate(today):
        others = before + today[:i]
        if all(departure <= a or arrival >= d for a, d, _, _ in others):
            kept.append((arrival, departure, kwh, car_kw))
    return tuple(kept)


def ev_sessions(device: Mapping[str, str], day: date) -> list[dict[str, object]]:
    """The charging sessions of an EV charger that arrive on local date ``day``."""
    rated_kw = float(device["rated_power_kw"])
    out = []
    day_number = (day - date(1970, 1, 1)).days
    for arrival, departure, kwh, car_kw in _ev_sessions(device["device_id"], day_number):
        power_kw = min(rated_kw, car_kw)
        charge_s = min(kwh / power_kw * 3600, departure - arrival)
        out.append(
            {
                "arrival_s": arrival,
                "departure_s": departure,
                "charge_end_s": arrival + charge_s,
                "power_w": power_kw * 1000,
                "energy_kwh": power_kw * charge_s / 3600,
            }
        )
    return out


def _ev_power(device: Mapping[str, str], rated_w: float, grid: _Grid) -> np.ndarray:
    """Mean charging power per interval: rated power (or the car's limit) until the energy is in."""
    power = np.zeros(len(grid.ts))
    if len(grid.ts) == 0:
        return power
    resolution = grid.key[2]
    t0 = grid.ts
    t1 = t0 + resolution
    epoch = date(1970, 1, 1)
    for day in range(int(grid.local[0] // DAY_S) - 2, int(grid.local[-1] // DAY_S) + 1):
        for session in ev_sessions(device, epoch + timedelta(days=day)):
            start, stop = session["arrival_s"], session["charge_end_s"]
            if stop <= t0[0] or start >= t1[-1]:
                continue
            overlap = np.clip(np.minimum(t1, stop) - np.maximum(t0, start), 0.0, resolution)
            power += session["power_w"] * overlap / resolution
    return np.minimum(power, rated_w)


# ----------------------------------------------------------------------------------------------
# Shaped controller: battery


def clipped_cumsum(steps: np.ndarray, start: float, low: float, high: float) -> np.ndarray:
    """Levels of ``level[i] = clip(level[i-1] + steps[i], low, high)`` from ``start``, vectorised.

    Runs of unclipped steps are one ``cumsum`` each; runs pinned at a bound (steps pushing
    further into it) are skipped at once. So the loop turns once per bound hit, not per step.
    """
    n = len(steps)
    out = np.empty(n)
    i, level = 0, float(start)
    while i < n:
        path = level + np.cumsum(steps[i:])
        outside = (path > high) | (path < low)
        if not outside.any():
            out[i:] = path
            break
        j = int(outside.argmax())
        out[i : i + j] = path[:j]
        level = high if path[j] > high else low
        out[i + j] = level
        i += j + 1
        rest = steps[i:]
        pushing = rest >= 0 if level == high else rest <= 0
        k = len(rest) if pushing.all() else int(pushing.argmin())
        out[i : i + k] = level
        i += k
    return out


@lru_cache(maxsize=4096)
def _battery_day(
    profiles: RealProfiles, site_id: str, rated_w: float, day: int
) -> tuple[int, float, np.ndarray]:
    """One local day of the controller at 60 s: (day start UTC s, SoC at start, power W).

    The run starts at noon the day before with a half-full battery, so the state at midnight
    is settled (after an evening of discharging, normally at the 10 % floor) and every local
    day is computed on its own: a reading does not depend on the requested window.
    """
    day_start, day_end = (int(v) for v in amsterdam_local_to_utc(np.array([day, day + 1]) * DAY_S))
    grid = _grid(day_start - BATTERY_WARMUP_S, day_end, BATTERY_STEP_S)
    _, load_w = _replay(profiles.households, "site:" + site_id, grid)
    pv_w = _pv_power("site:" + site_id, BATTERY_PV_RATIO * rated_w, grid)
    wanted_w = np.clip(-(load_w + pv_w), -rated_w, rated_w)  # charge the surplus, cover deficits
    capacity_wh = BATTERY_HOURS * rated_w
    level = clipped_cumsum(
        wanted_w * _STEP_H,
        BATTERY_WARMUP_SOC * capacity_wh,
        SOC_MIN * capacity_wh,
        SOC_MAX * capacity_wh,
    )
    power = np.diff(level, prepend=BATTERY_WARMUP_SOC * capacity_wh) / _STEP_H
    skip = BATTERY_WARMUP_S // BATTERY_STEP_S
    return day_start, float(level[skip - 1] / capacity_wh), _readonly(power[skip:].copy())


def _battery_on_grid(
    device: Mapping[str, str], rated_w: float, grid: _Grid, profiles: RealProfiles
) -> tuple[np.ndarray, np.ndarray]:
    power = np.zeros(len(grid.ts))
    soc = np.zeros(len(grid.ts))
    if len(grid.ts) == 0:
        return power, soc
    days = grid.local // DAY_S
    capacity_wh = BATTERY_HOURS * rated_w
    for day in np.unique(days):
        day_start, start_soc, day_power = _battery_day(
            profiles, device["site_id"], rated_w, int(day)
        )
        day_soc = start_soc + np.cumsum(day_power) * _STEP_H / capacity_wh
        rows = days == day
        step = np.clip((grid.ts[rows] - day_start) // BATTERY_STEP_S, 0, len(day_power) - 1)
        power[rows] = day_power[step]
        soc[rows] = day_soc[step]
    return power, soc


def battery_state(
    device: Mapping[str, str],
    start: datetime,
    end: datetime,
    resolution_s: int,
    profiles: RealProfiles,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A battery's (timestamps, power W without noise, SoC after each 60-s controller step).

    The SoC is a fraction of the capacity (2 h x rated power), between 0.10 and 0.90.
    """
    rated_w = _rated_w(device)
    grid = _grid(_aware_seconds(start, "start"), _aware_seconds(end, "end"), resolution_s)
    power, soc = _battery_on_grid(device, rated_w, grid, profiles)
    return grid.ts.astype("datetime64[s]"), power, soc


# ----------------------------------------------------------------------------------------------
# One device


def _rated_w(device: Mapping[str, str]) -> float:
    rated_w = float(device["rated_power_kw"]) * 1000
    if not rated_w > 0:
        raise ValueError(f"device {device['device_id']}: rated_power_kw must be > 0")
    return rated_w


Generator = Callable[[Mapping[str, str], float, _Grid, RealProfiles], np.ndarray]


def _heat_pump(
    device: Mapping[str, str], rated_w: float, grid: _Grid, profiles: RealProfiles
) -> np.ndarray:
    series, values = _replay(profiles.heat_pumps, device["device_id"], grid)
    return values * (rated_w / series.peak_w)


def _household(
    device: Mapping[str, str], rated_w: float, grid: _Grid, profiles: RealProfiles
) -> np.ndarray:
    series, values = _replay(profiles.households, device["device_id"], grid)
    return values * (rated_w / series.peak_w)


def _ev(
    device: Mapping[str, str], rated_w: float, grid: _Grid, profiles: RealProfiles
) -> np.ndarray:
    return _ev_power(device, rated_w, grid)


def _pv(
    device: Mapping[str, str], rated_w: float, grid: _Grid, profiles: RealProfiles
) -> np.ndarray:
    return _pv_power(device["device_id"], rated_w, grid)


def _battery(
    device: Mapping[str, str], rated_w: float, grid: _Grid, profiles: RealProfiles
) -> np.ndarray:
    return _battery_on_grid(device, rated_w, grid, profiles)[0]


_GENERATORS: dict[str, Generator] = {
    "heat_pump": _heat_pump,
    "other": _household,
    "ev_charger": _ev,
    "pv_inverter": _pv,
    "battery": _battery,
}
#: Physical range of each type as (low, high) multiples of the rated power.
_BOUNDS = {
    "heat_pump": (0.0, 1.0),
    "other": (0.0, 1.0),
    "ev_charger": (0.0, 1.0),
    "pv_inverter": (-1.0, 0.0),
    "battery": (-1.0, 1.0),
}


def device_power(
    device: Mapping[str, str],
    start: datetime,
    end: datetime,
    resolution_s: int,
    profiles: RealProfiles,
    *,
    noise: float = 0.01,
    gap_rate: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """One device's readings on [start, end) every ``resolution_s`` s: (ts, power_w).

    ``device`` is a registry row (``device_id``, ``device_type``, ``rated_power_kw``,
    ``site_id``). ``ts`` is ``datetime64[s]`` in UTC; ``power_w`` float64, offtake positive.
    ``noise`` is the relative standard deviation of the measurement noise (multiplicative, so
    an idle device reads exactly 0); values stay within the type's physical range.
    ``gap_rate`` drops that share of 5-minute blocks, as a lost connection would.
    Finer resolutions than the source hold each source value (steps); coarser ones sample it.
    """
    kind = device["device_type"]
    if kind not in _GENERATORS:
        raise ValueError(f"device {device['device_id']}: unknown device_type {kind!r}")
    if int(resolution_s) != resolution_s or resolution_s <= 0:
        raise ValueError(f"resolution_s must be a positive whole number, got {resolution_s}")
    rated_w = _rated_w(device)
    grid = _grid(_aware_seconds(start, "start"), _aware_seconds(end, "end"), int(resolution_s))
    power = _GENERATORS[kind](device, rated_w, grid, profiles)
    seed = stable_hash("noise", device["device_id"])
    if noise and len(power):
        power = power * (1.0 + noise * _unit_noise(seed, grid.ts))
    low, high = _BOUNDS[kind]
    power = np.clip(power, low * rated_w, high * rated_w)
    ts = grid.ts.astype("datetime64[s]")
    if gap_rate > 0 and len(ts):
        keep = _uniform(seed + 1, grid.ts // GAP_BLOCK_S) >= gap_rate
        return ts[keep], power[keep]
    return ts, power


if __name__ == "__main__":  # timing: python -m simulators.profiles [n_devices]
    import sys
    import time
    from datetime import UTC

    from simulators.fleet import generate_fleet

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    fleet_devices = generate_fleet(n).tables()["devices"]
    began = time.perf_counter()
    real = load_real_profiles()
    loaded = time.perf_counter()
    window_start = datetime(2025, 2, 27, 9, 0, tzinfo=UTC)
    for row in fleet_devices:
        device_power(row, window_start, window_start + timedelta(hours=1), 4, real)
    done = time.perf_counter()
    print(
        f"{len(fleet_devices)} devices x 1 h at 4 s: {done - loaded:.2f} s "
        f"(+ {loaded - began:.2f} s to load the real series once)"
    )
