import re

import jinja2
import pytest

from genrec import Item, UserProfile
from genrec.model.prompts import PROMPTS_DIR, render, template_names, template_version


def test_recommend_prompt_carries_profile_and_recent_item_descriptions():
    p = UserProfile.from_dict({"age": 34, "interests": ["running"], "free_text": "first race", "budget": 99.5})
    recent = [Item("a", "Trail shoe", description="Grippy lugs for mud", category=("Sports", "Running"),
                   price=80.0)]
    text = render("recommend", profile=p, recent_items=recent, description_chars=100)
    for piece in ("- age: 34", "- interests: running", '"first race"', "$99.50", "Trail shoe [Sports > Running]",
                  "$80.00: Grippy lugs for mud"):
        assert piece in text
    assert text.rstrip().endswith("Recommended product code:")


def test_empty_profile_renders_without_blank_fields():
    text = render("recommend", profile=UserProfile(), recent_items=[], description_chars=100)
    assert text == ("A new customer is shopping. Recommend the product that fits them best.\nCustomer:\n"
                    "Recommended product code:")


def test_missing_variable_is_an_error_not_an_empty_string():
    with pytest.raises(jinja2.UndefinedError):
        render("recommend", profile=UserProfile(), recent_items=[Item("a", "Shoe", description="d")])
    with pytest.raises(jinja2.UndefinedError):
        render("recommend", profile=UserProfile(), description_chars=10)


def test_explain_prompt_lists_facts():
    text = render("explain", profile=UserProfile(interests=("tea",)), item=Item("a", "Kettle", price=20.0),
                  facts=["It matches your interest in tea."])
    assert "- It matches your interest in tea." in text and "Kettle, $20.00" in text


def test_readme_documents_every_template_and_versions_are_stable():
    readme = (PROMPTS_DIR / "README.md").read_text()
    for name in template_names():
        assert f"`{name}`" in readme
    assert re.fullmatch(r"[0-9a-f]{12}", template_version("recommend"))
    with pytest.raises(ValueError, match="no prompt template"):
        render("nope")
