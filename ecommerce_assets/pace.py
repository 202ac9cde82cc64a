"""How often the sensors look: every sensor's interval is its base (automation 15 s, gap and heal sensors 30 s,
dead runs and the lake 60 s, freshness 10 min) times one factor, $ECOM_SENSOR_INTERVAL_SCALE — lower to react
sooner at the cost of more evaluations, higher to spare a busy daemon. Never below the daemon's own loop."""

from dataclasses import dataclass

DAEMON_LOOP_SECONDS = 5  # dagster-daemon evaluates sensors at most this often, whatever they ask


@dataclass(frozen=True)
class SensorPace:
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"a sensor interval scale must be above 0, not {self.scale}")

    def seconds(self, base: int) -> int:
        """The interval of a sensor whose interval at scale 1 is `base` seconds."""
        return max(DAEMON_LOOP_SECONDS, round(base * self.scale))


DEFAULT_PACE = SensorPace()
