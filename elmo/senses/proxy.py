"""The sense proxy: hand-written cue rules on neighbouring tokens that label a homograph's occurrence.

A heuristic, not gold senses: an occurrence stays unlabelled ("?") when no cue fires.
"""
from __future__ import annotations

import re
from typing import NamedTuple, Sequence

from elmo.senses.occurrences import UNLABELLED

# Numerals that precede a counter (2 배, 세 배, 몇 차). Sino-Korean 일/이/삼/사/오 and 한 are left
# out on purpose: as tokens they are far more often a particle (이), a noun (일) or "a/one" (한).
NUMERALS = frozenset("두 세 네 몇 여러 수십 수백 수천 스무 십 백 천 만".split())
_NUMBER = re.compile(r"^\d+([.,]\d+)?$")
# Verb endings kiwipiepy splits off a stem (ᆫ, ᆯ and ᆸ are the jamo it uses for codas).
VERB_ENDINGS = frozenset(["어", "아", "었", "았", "고", "지", "게", "면", "서", "자", "라", "어라", "아라",
                          "어도", "아도", "어서", "아서", "ᆫ다", "\u11ab", "\u11af", "\u11b8니다", "습니다",
                          "어요", "아요", "겠", "시"])  # fmt: skip
PERIODS = frozenset("월 년 연 해 그해 분기 학기 시즌 임기 세기 학년 정권 올해 작년 내년 금년 지난해 이달 이번 주 회".split())


class Rule(NamedTuple):
    """`sense` applies when a token in `where` is in `cues`.

    where: "prev" (the token just before), "next" (just after), "after" (the `width` tokens after),
    or "window" (the `width` tokens on each side); "number" means the previous token is a numeral.
    """

    sense: str
    where: str
    cues: frozenset = frozenset()
    width: int = 4


def _cues(text: str) -> frozenset:
    return frozenset(text.split())


# Ordered: the first rule that fires wins, so the most specific (grammatical) cues come first.
SENSE_RULES: dict[str, tuple[Rule, ...]] = {
    "배": (
        Rule("times (N배)", "number"),
        Rule("ship", "window", _cues("세월호 선박 선장 선원 항구 바다 침몰 어선 해경 승선 항해 여객선 해상 선체 인양 해군 어민 낚시 부두 선주")),
        Rule("ship", "after", _cues("타 띄우 몰"), 3),
        Rule("pear", "window", _cues("사과 과일 농가 수확 과수원 나주 포도 복숭아 귤 배즙")),
        Rule("belly", "window", _cues("아프 고프 부르 통증 복부 배꼽 설사 허리 굶 채우 불리 주먹 뱃살 배탈")),
    ),
    "눈": (
        Rule("snow", "window", _cues("폭설 겨울 쌓이 대설 한파 제설 눈사람 빙판 강설 눈길 녹 비 산간 한때 적설 기온 영하 예보 날씨 ㎝")),
        Rule("snow", "after", _cues("오 내리"), 3),
        Rule("eye", "window", _cues("뜨 감 귀 코 입 시력 마주 멀 안과 얼굴 띄 동공 똑바로 쳐다보 눈물 눈빛 시선 속이")),
        Rule("eye", "after", _cues("보 보이"), 4),
        Rule("eye", "prev", _cues("의")),  # "X 의 눈": someone's eyes (or gaze)
    ),
    "말": (
        Rule("말다 (verb)", "prev", _cues("지")),
        Rule("말다 (verb)", "next", VERB_ENDINGS),
        Rule("end (연말)", "prev", PERIODS),
        Rule("horse", "window", _cues("경마 승마 기수 마사회 경주마 목장 조련 마필 말굽 기마"), 3),
        Rule("speech", "after", _cues("하 듣 씀 전하 믿 들 쓰 바꾸 잘하"), 3),
        Rule("speech", "window", _cues("한마디 거짓 이야기 뜻 표현 대답 막말 발언 약속"), 3),
        Rule("speech", "prev", _cues("라는 다는 이라는 무슨 그런 이런 저런 어떤 좋 거친 입")),
    ),
    "차": (
        Rule("round (N차)", "number"),
        Rule("round (N차)", "prev", _cues("주 년 일 개월 달 회 단계")),  # "2 주 차", "3 년 차"
        Rule("difference (온도 차)", "prev", _cues("온도 기온 시 점 점수 표 세대 빈부 연령 인식 견해 의견 성별 임금 격")),
        Rule("차다 (verb)", "next", VERB_ENDINGS),
        Rule("tea", "window", _cues("마시 커피 녹차 찻잔 홍차 다도 음료 찻집 한잔 잔"), 2),
        Rule("car", "prev", _cues("톤 대포 전기 승용 소방 경찰 구급 화물 통학 렌터 자율 수소 중고 신")),
        Rule("car", "window", _cues("운전 주차 사고 도로 자동차 운전자 차량 택시 버스 신호 속도 트럭 음주 골목 "
                                     "정차 차선 보행자 주행 경적 탑승 세우 막히 타 몰 치 견인"), 4),
    ),
    "밤": (
        Rule("chestnut", "window", _cues("굽 군밤 줍 도토리 대추 밤나무 밤송이 알밤 재배 과일 껍질")),
        Rule("night", "next", _cues("에 늦 새 중 마다 까지 부터 사이 낮")),
        Rule("night", "prev", _cues("일 날 그날 여름 가을 겨울 봄 첫날")),  # "12 일 밤", "여름 밤"
        Rule("night", "window", _cues("낮 늦 새벽 잠 야간 아침 저녁 깊 오늘 어제 매일 야근 퇴근 잠들 어둡 달 별 하룻 새 뜬눈 시")),
    ),
    "다리": (
        Rule("leg", "window", _cues("팔 아프 부러지 다치 허리 무릎 발 절 양팔 수술 골절 장애 걷 저리 통증 꼬 뻗 오른쪽 왼쪽 "
                                     "불편 마비 멍 부상 휠체어")),
        Rule("bridge", "window", _cues("건너 한강 건설 붕괴 교량 강 육교 하천 철교 대교 통행 설계 잇 연결 유람선 밑 흔들")),
        Rule("bridge", "after", _cues("놓"), 2),
    ),
}


def is_numeral(token: str) -> bool:
    return bool(_NUMBER.match(token)) or token in NUMERALS


def _fires(rule: Rule, tokens: Sequence[str], position: int) -> bool:
    before, after = tokens[max(0, position - rule.width) : position], tokens[position + 1 : position + 1 + rule.width]
    if rule.where == "number":
        return position > 0 and is_numeral(tokens[position - 1])
    if rule.where == "prev":
        return position > 0 and tokens[position - 1] in rule.cues
    if rule.where == "next":
        return position + 1 < len(tokens) and tokens[position + 1] in rule.cues
    if rule.where == "after":
        return any(t in rule.cues for t in after)
    if rule.where == "window":
        return any(t in rule.cues for t in (*before, *after))
    raise ValueError(f"unknown rule position {rule.where!r}")


def sense_proxy(word: str, tokens: Sequence[str], position: int, rules: dict | None = None) -> str:
    """The proxy sense of `tokens[position]` (= `word`): the first rule of `rules[word]` that
    fires, else `UNLABELLED`. Words without rules are always unlabelled."""
    if tokens[position] != word:
        raise ValueError(f"token {position} is {tokens[position]!r}, not {word!r}")
    for rule in (SENSE_RULES if rules is None else rules).get(word, ()):
        if _fires(rule, tokens, position):
            return rule.sense
    return UNLABELLED
