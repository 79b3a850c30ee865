import json

import pytest

from genrec import ProfileError, UserProfile
from genrec.data.profile import parse_age


def test_from_dict_normalises_lists_and_recent_items():
    p = UserProfile.from_dict({"age": 34.0, "interests": "running, camping", "recent_items": [
        "P1", {"item_id": "P2", "rating": 5, "timestamp": 1700000000}], "free_text": "  hi  "})
    assert p.age == 34 and p.interests == ("running", "camping") and p.free_text == "hi"
    assert [(r.item_id, r.rating, r.timestamp) for r in p.recent_items] == [("P1", None, None),
                                                                          ("P2", 5, "1700000000")]
    assert UserProfile.from_json(json.dumps(p.to_dict())) == p


@pytest.mark.parametrize("data, words", [
    ({"age": 200}, "age must be an integer from 0 to 120"),
    ({"age": "thirty"}, "age"),
    ({"budget": -5}, "budget must be a positive number"),
    ({"interests": [""]}, "interests"),
    ({"favourite": "x"}, "unknown profile field"),
    ({"recent_items": [{"rating": 3}]}, "lacks item_id"),
    ({"recent_items": [{"item_id": "a", "stars": 3}]}, "unknown field"),
    ({"free_text": "x" * 5000}, "at most 2000"),
    ({"gender": 3}, "gender must be text"),
])
def test_invalid_profiles_name_the_field(data, words):
    with pytest.raises(ProfileError, match=words):
        UserProfile.from_dict(data)


def test_from_json_reports_bad_json_and_missing_files(tmp_path):
    with pytest.raises(ProfileError, match="not valid JSON"):
        UserProfile.from_json('{"age": }')
    with pytest.raises(ProfileError, match="no such profile file"):
        UserProfile.from_json(str(tmp_path / "none.json"))
    f = tmp_path / "p.json"
    f.write_text('{"age": 30}')
    assert UserProfile.from_json(str(f)).age == 30


@pytest.mark.parametrize(("value", "years"), [
    (34, 34), (34.9, 34), ("34", 34), (" 56 ", 56), ("25-34", 25), ("35+", 35), ("Under 18", 17), ("<18", 17),
    ("unknown", None), ("", None), (None, None), (True, None), (float("nan"), None), (1985, None), ("-3", None),
    (10 ** 400, None), ("1" + "0" * 400, None), (float("inf"), None),  # past float's range: no age, no OverflowError
])
def test_parse_age_reads_the_ages_shops_write(value, years):
    assert parse_age(value) == years


def test_repr_never_shows_personal_fields():
    p = UserProfile(age=41, location="Secret Town", free_text="my secret")
    assert "Secret" not in repr(p) and "secret" not in str(p) and "41" not in repr(p)
    assert not UserProfile().to_dict() and p.to_dict()


def test_direct_construction_accepts_lists():
    p = UserProfile(interests=["tea", "yoga"], recent_items=["A", {"item_id": "B", "rating": 4}])
    assert p.interests == ("tea", "yoga") and [r.item_id for r in p.recent_items] == ["A", "B"]
    assert hash(p) == hash(UserProfile(interests=("tea", "yoga"), recent_items=("A", {"item_id": "B", "rating": 4})))
