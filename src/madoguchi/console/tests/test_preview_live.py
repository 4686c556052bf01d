"""The staff preview of a form is live like the resident's form, and stores nothing."""

from __future__ import annotations

from madoguchi.applications.models import Draft


def live_url(procedure) -> str:
    return f"/console/procedures/{procedure.pk}/preview/live/"


def test_the_preview_says_where_its_live_form_asks(staff_client, published):
    page = staff_client.get(f"/console/procedures/{published.pk}/preview/").content.decode()

    assert f'hx-post="{live_url(published)}"' in page
    assert 'id="f-spouse_name-cond"' in page
    assert 'id="step-fields"' in page


def test_the_preview_shows_the_spouse_questions_after_yes_and_fills_the_address(
    staff_client, published
):
    html = staff_client.post(
        live_url(published),
        {
            "_step": "claimant",
            "has_spouse": "yes",
            "_live_hidden": ["spouse_name", "spouse_my_number"],
            "claimant_address.postal_code": "2480005",
            "_live_touched": "claimant_address.postal_code",
            "_live_event": "input",
        },
    ).content.decode()

    assert 'id="f-spouse_name-cond" hx-swap-oob="true"' in html
    assert 'value="鎌倉市"' in html
    assert not Draft.objects.exists()


def test_adding_a_child_in_the_preview_focuses_its_first_field(staff_client, published):
    page = staff_client.post(
        f"/console/procedures/{published.pk}/preview/",
        {"_step": "children", "children.0.name.family": "山田", "_add": "children"},
    ).content.decode()

    assert 'id="f-children-1-name-family" name="children.1.name.family" value="" autofocus' in page


def test_an_unknown_preview_step_is_refused_in_japanese(staff_client, published):
    response = staff_client.post(live_url(published), {"_step": "nope"})

    assert response.status_code == 400
    assert "入力画面はありません" in response.content.decode()


def test_another_organisations_staff_get_404(other_staff, client, published):
    from madoguchi.testing import console_login

    other = console_login(client, other_staff.user)

    assert other.post(live_url(published), {"_step": "claimant"}).status_code == 404
