from dashboard_helpers import browser, dash, scene  # noqa: F401


def test_an_image_is_served_by_its_content_id_and_an_unknown_id_is_not(browser, ws, scene):
    cid = ws.db().scalar("SELECT id FROM content WHERE path IS NOT NULL ORDER BY id LIMIT 1")
    page = browser.get(f"/content/images/{cid}")
    assert page.code == 200 and page.header("Content-Type").startswith("image/")
    assert browser.get("/content/images/999999").code == 404
