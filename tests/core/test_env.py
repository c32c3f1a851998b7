"""The install story: pins agree everywhere, torch stays the CPU build, Hangul renders."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def pins(lines):
    out = {}
    for line in lines:
        line = line.strip().lstrip("- ").strip()
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_environment_yml_matches_requirements():
    reqs = pins((REPO / "requirements.txt").read_text().splitlines())
    env_text = (REPO / "environment.yml").read_text()
    env = pins(env_text.split("- pip:", 1)[1].splitlines())
    assert reqs and env == reqs


def test_torch_pinned_to_cpu_version_everywhere():
    for name in ("requirements.txt", "constraints.txt", "environment.yml"):
        assert pins((REPO / name).read_text().splitlines()).get("torch") == "2.13.0", name
    cons = pins((REPO / "constraints.txt").read_text().splitlines())
    assert not any(k.startswith("nvidia-") for k in cons)


def test_requirements_agree_with_constraints():
    reqs = pins((REPO / "requirements.txt").read_text().splitlines())
    cons = pins((REPO / "constraints.txt").read_text().splitlines())
    assert {k: cons.get(k) for k in reqs} == reqs


def test_ci_calls_the_readme_test_command():
    assert "make test" in (REPO / "README.md").read_text()
    assert re.search(r"^make test$", (REPO / ".ci/run").read_text(), re.M)


def test_korean_font_covers_hangul():
    from elmo.core.figures import font_covers, korean_font_path

    assert "Nanum" in korean_font_path().name
    assert font_covers("가나다 한국어 청원 국민 뷁 ㅋㅋ")
