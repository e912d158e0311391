"""Every generated dashboard against Grafana's own schema: ``@grafana/schema`` from npm (the
version of the Grafana image in docker-compose.yml; tests/grafana_schema, installed by
scripts/test with ``npm ci``), checked by the TypeScript compiler.

Each dashboard JSON is written as a TypeScript object literal typed as the schema's
``Dashboard``, and each panel again as a ``Panel`` whose ``options`` and
``fieldConfig.defaults.custom`` are that panel plugin's own ``Options`` and ``FieldConfig``
(stat, timeseries, table). ``tsc --strict`` then rejects unknown fields (excess property
checks on literals), missing required fields and wrong types or enum values. The schema's
enums are TypeScript enums; ``Lit<T>`` turns each into the union of its string values, which
is what the JSON holds.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from gympulse.dashboards.grafana import dashboards as gd

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tests" / "grafana_schema"
RAW = "@grafana/schema/dist/esm/raw"
PLUGINS = {
    "stat": f"{RAW}/composable/stat/panelcfg/x/StatPanelCfg_types.gen",
    "timeseries": f"{RAW}/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen",
    "table": f"{RAW}/composable/table/panelcfg/x/TablePanelCfg_types.gen",
}

PRELUDE = f"""\
import type {{ Dashboard as D, Panel as P }} from "{RAW}/dashboard/x/dashboard_types.gen";
{"".join(f'import type * as {k} from "{v}";{chr(10)}' for k, v in PLUGINS.items())}
type Lit<T> = T extends string
  ? `${{T}}`
  : T extends (infer U)[]
    ? Lit<U>[]
    : T extends object
      ? {{ [K in keyof T]: Lit<T[K]> }}
      : T;
type Dashboard = Lit<D>;
type Defaults = Lit<NonNullable<P["fieldConfig"]>["defaults"]>;
type PanelOf<O, F> = Omit<Lit<P>, "options" | "fieldConfig"> & {{
  options?: Lit<O>;
  fieldConfig?: {{
    defaults: Omit<Defaults, "custom"> & {{ custom?: Lit<F> }};
    overrides: Lit<NonNullable<P["fieldConfig"]>["overrides"]>;
  }};
}};
"""
FIELD_CONFIG = {"stat": "{}", "timeseries": "timeseries.FieldConfig", "table": "table.FieldConfig"}


def schema_version() -> str:
    lock = json.loads((PACKAGE / "package-lock.json").read_text())
    version: str = lock["packages"]["node_modules/@grafana/schema"]["version"]
    return version


def checked_source() -> str:
    boards = [*gd.staff_dashboards(), gd.guest_dashboard(3, "Guest")]
    lines = [PRELUDE]
    for i, board in enumerate(boards):
        lines.append(f"export const d{i}: Dashboard = {json.dumps(board.model, indent=1)};")
        for j, panel in enumerate(board.model["panels"]):
            kind = panel["type"]
            assert kind in PLUGINS, f"{board.uid}: panel type {kind} has no schema check here"
            typed = f"PanelOf<{kind}.Options, {FIELD_CONFIG[kind]}>"
            lines.append(f"export const d{i}p{j}: {typed} = {json.dumps(panel, indent=1)};")
    return "\n".join(lines) + "\n"


def test_schema_is_the_grafana_of_the_compose_file() -> None:
    image = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]
    assert image["image"].rsplit(":", 1)[1] == schema_version()


def test_generated_dashboards_match_grafanas_schema(tmp_path: Path) -> None:
    tsc = PACKAGE / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), "run scripts/test: it installs tests/grafana_schema with npm ci"
    (tmp_path / "node_modules").symlink_to(PACKAGE / "node_modules")
    (tmp_path / "check.ts").write_text(checked_source())
    (tmp_path / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "strict": True,
                    "noEmit": True,
                    "module": "esnext",
                    "moduleResolution": "bundler",
                    "target": "es2022",
                    "skipLibCheck": True,
                },
                "files": ["check.ts"],
            }
        )
    )
    result = subprocess.run(
        [str(tsc), "-p", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[:4000] + result.stderr[:2000]


def test_the_check_rejects_what_grafana_would_not_know(tmp_path: Path) -> None:
    """The same compiler run must fail on a panel with a misspelt field and an enum value
    Grafana does not have — the check is not vacuous."""
    tsc = PACKAGE / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), "run scripts/test: it installs tests/grafana_schema with npm ci"
    (tmp_path / "node_modules").symlink_to(PACKAGE / "node_modules")
    panel = dict(gd.to_json(gd.coach_squad())["panels"][2])
    panel["fieldConfig"] = json.loads(json.dumps(panel["fieldConfig"]))
    panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] = {"mode": "stripes"}
    panel["tittle"] = "typo"
    (tmp_path / "check.ts").write_text(
        PRELUDE + f"export const p: PanelOf<timeseries.Options, timeseries.FieldConfig> = "
        f"{json.dumps(panel)};\n"
    )
    (tmp_path / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {"strict": True, "noEmit": True, "module": "esnext",
                                    "moduleResolution": "bundler", "skipLibCheck": True},
                "files": ["check.ts"],
            }
        )
    )  # fmt: skip
    result = subprocess.run(
        [str(tsc), "-p", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode != 0
    assert "tittle" in result.stdout or "stripes" in result.stdout, result.stdout
