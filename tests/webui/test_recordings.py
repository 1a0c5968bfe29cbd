"""The recordings pages: search, the player and its range-request audio stream, the refusal page,
and withdrawing a release request."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from engine import audit
from engine.facade import Callgov
from tests.webui import release_world as world
from tests.webui.release_world import ReleaseWorld

release_world = world.release_world  # the fixtures of the release world, used by name
release_services = world.release_services
web_callgov = world.web_callgov

SignIn = Callable[[str], FlaskClient]


def _actions(callgov: Callgov, actor: str) -> list[str]:
    with callgov.db.reading() as s:
        return [e.action for e in audit.events_for(s, actor=actor, limit=100)]


def test_search_by_number_in_a_uk_format_is_audited(release_world: ReleaseWorld, web_callgov: Callgov,
                                                    sign_in_as: SignIn) -> None:
    hit = web_callgov.recording_summary(release_world.granted_recording)
    national = "0" + (hit.external_number or "")[3:]
    response = sign_in_as("leader").get("/recordings", query_string={"number": national})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"/recordings/{release_world.granted_recording}" in html
    assert "days left" in html
    assert "recording.searched" in _actions(web_callgov, "leader")


def test_search_pages_with_cursors(sign_in_as: SignIn) -> None:
    client = sign_in_as("dpo1")
    first = client.get("/recordings", query_string={"direction": "inbound"}).get_data(as_text=True)
    assert 'rel="next"' in first
    next_url = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = client.get(next_url)
    assert second.status_code == 200
    assert 'rel="prev"' in second.get_data(as_text=True)


def test_search_input_problems_are_shown(sign_in_as: SignIn) -> None:
    response = sign_in_as("helpdesk").get("/recordings", query_string={"number": "hello", "from": "yesterday"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in html and 'href="#from"' in html


def test_staff_cannot_search(sign_in_as: SignIn) -> None:
    response = sign_in_as("sam").get("/recordings", query_string={"number": "01248 123456"})
    assert response.status_code == 403
    assert "who called whom" in response.get_data(as_text=True)


def test_player_for_a_grant(release_world: ReleaseWorld, sign_in_as: SignIn) -> None:
    html = sign_in_as("sam").get(f"/recordings/{release_world.granted_recording}").get_data(as_text=True)
    assert f'src="/recordings/{release_world.granted_recording}/audio"' in html
    assert release_world.granted in html


def test_refusal_page_explains_offers_a_request_and_is_audited(release_world: ReleaseWorld, web_callgov: Callgov,
                                                               sign_in_as: SignIn) -> None:
    response = sign_in_as("sam").get(f"/recordings/{release_world.waiting_recording}")
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "without an open case" in html
    assert f'action="/recordings/{release_world.waiting_recording}/request"' in html
    assert "recording.access_denied" in _actions(web_callgov, "sam")


def test_request_this_recording_starts_a_request_that_names_it(release_world: ReleaseWorld, web_callgov: Callgov,
                                                               sign_in_as: SignIn) -> None:
    client = sign_in_as("sam")
    response = client.post(f"/recordings/{release_world.other_recording}/request")
    assert response.status_code == 302 and response.headers["Location"].startswith("/tasks/")
    form = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Recordings you chose from the search" in form and f"#{release_world.other_recording}:" in form


def test_audio_whole_and_ranges(release_world: ReleaseWorld, web_callgov: Callgov, sign_in_as: SignIn) -> None:
    client = sign_in_as("sam")
    url = f"/recordings/{release_world.granted_recording}/audio"
    whole = client.get(url)
    assert whole.status_code == 200 and whole.headers["Accept-Ranges"] == "bytes"
    body = whole.data
    size = len(body)
    assert size > 100 and int(whole.headers["Content-Length"]) == size

    first = client.get(url, headers={"Range": "bytes=0-9"})
    assert first.status_code == 206 and first.data == body[:10]
    assert first.headers["Content-Range"] == f"bytes 0-9/{size}"
    middle = client.get(url, headers={"Range": "bytes=50-"})
    assert middle.status_code == 206 and middle.data == body[50:]
    assert middle.headers["Content-Range"] == f"bytes 50-{size - 1}/{size}"
    suffix = client.get(url, headers={"Range": "bytes=-20"})
    assert suffix.status_code == 206 and suffix.data == body[-20:]
    assert suffix.headers["Content-Range"] == f"bytes {size - 20}-{size - 1}/{size}"
    past = client.get(url, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{size}"
    assert client.get(url, headers={"Range": "bytes=9-2"}).status_code == 200  # malformed: ignored
    assert client.get(url, headers={"Range": "bytes=0-1,5-6"}).data == body  # several ranges: the whole
    with web_callgov.db.reading() as s:
        played = [e for e in audit.events_for(s, actor="sam", limit=100) if e.action == "recording.played"]
    assert played and all(e.case_ref == release_world.granted for e in played)


def test_audio_refused_without_a_case(release_world: ReleaseWorld, sign_in_as: SignIn) -> None:
    response = sign_in_as("staff1").get(f"/recordings/{release_world.granted_recording}/audio")
    assert response.status_code == 403
    assert response.mimetype == "text/plain"


def test_authoriser_listens_to_a_waiting_request(release_world: ReleaseWorld, sign_in_as: SignIn) -> None:
    client = sign_in_as("director")
    assert client.get(f"/recordings/{release_world.waiting_recording}").status_code == 200
    assert client.get(f"/recordings/{release_world.waiting_recording}/audio",
                      headers={"Range": "bytes=0-0"}).status_code == 206


def test_case_page_lists_recordings_and_withdraw(release_world: ReleaseWorld, web_callgov: Callgov,
                                                 sign_in_as: SignIn) -> None:
    client = sign_in_as("sam")
    html = client.get(f"/cases/{release_world.waiting}").get_data(as_text=True)
    assert "Recordings this case concerns" in html and "Not authorised for you" in html
    assert f"/cases/{release_world.waiting}/withdraw" in html
    assert client.post(f"/cases/{release_world.waiting}/withdraw", data={"reason": ""}).status_code == 400
    done = client.post(f"/cases/{release_world.waiting}/withdraw", data={"reason": "No longer needed"})
    assert done.status_code == 302
    assert web_callgov.instance(release_world.waiting).status == "cancelled"


def test_authoriser_sees_play_links_on_the_case(release_world: ReleaseWorld, sign_in_as: SignIn) -> None:
    html = sign_in_as("leader").get(f"/cases/{release_world.waiting}").get_data(as_text=True)
    assert f'href="/recordings/{release_world.waiting_recording}"' in html
    assert "/withdraw" not in html


def test_player_page_allows_media_from_self(release_world: ReleaseWorld, sign_in_as: SignIn) -> None:
    response = sign_in_as("sam").get(f"/recordings/{release_world.granted_recording}")
    assert "media-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in response.get_data(as_text=True)


def test_a_team_leader_cannot_authorise_their_own_request_through_a_crafted_post(
        release_world: ReleaseWorld, web_callgov: Callgov, sign_in_as: SignIn) -> None:
    view = web_callgov.request_recordings([release_world.other_recording], user="leader")
    form = {"reason": "training_quality", "purpose": "Training new advisers on difficult calls",
            "lawful_basis": "legitimate_interests", "third_party": "no"}
    view = web_callgov.complete_task(view.ready_tasks[0].id, user="leader", data=form)
    [authorise] = view.ready_tasks
    assert authorise.element_id == "authorise"
    client = sign_in_as("leader")
    assert client.get(f"/tasks/{authorise.id}").status_code == 403
    crafted = client.post(f"/tasks/{authorise.id}", data={"decision": "approve", "decision_reason": "Fine by me"})
    assert crafted.status_code == 403
    assert [t.id for t in web_callgov.instance(view.case_ref).ready_tasks] == [authorise.id], "nothing moved"
