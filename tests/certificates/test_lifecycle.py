"""The life of a certificate: revoked with a reason, reissued under a new serial, verified by
code or by serial and name, every lookup logged and limited per address."""

from __future__ import annotations

import io
import zipfile

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from app.engine.errors import Conflict, Forbidden, ValidationFailed
from app.engine.runtime import fire
from app.extensions import db
from app.models import Certificate, CertificateDownload, Job, VerificationLog
from app.services.certificates import certificate_pdf, reissue_certificate, revoke_certificate
from app.services.reviews import assign_expert, save_review
from tests.certificates.test_render import pdf_text
from tests.conftest import confirmed
from tests.web.browser import Browser

SCORES = {"organisation": 18, "resources": 12, "activities": 30, "impact": 25}


@pytest.fixture
def certificate(world, make_application):
    """wj1's team, named: its certificate."""
    users = world["users"]
    entry = make_application("wj1", name="湖塘太极拳队")
    fire(entry, "submit", users["wj1"])
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    save_review(confirmed(assign_expert(entry, users["expert1"], users["city"])),
                users["expert1"], SCORES, "", submit=True)
    fire(entry, "publish_notice", users["city"])
    fire(entry, "name_team", users["city"])
    db.session.commit()
    return db.session.scalar(select(Certificate))


def test_a_revoked_certificate_says_so_and_is_no_longer_handed_out(app, world, certificate):
    city = world["users"]["city"]
    with pytest.raises(Forbidden):
        revoke_certificate(certificate, world["users"]["wj_admin"], "材料造假")
    with pytest.raises(ValidationFailed):
        revoke_certificate(certificate, city, "  ")
    revoke_certificate(certificate, city, "经查申报材料不实")
    db.session.commit()
    with pytest.raises(Conflict):
        revoke_certificate(certificate, city, "再撤一次")

    page = Browser(app).get(f"/verify/{certificate.code}")
    assert page.status == 200 and "被撤销，不再有效" in page.text
    assert certificate.serial in page.text
    assert "经查申报材料不实" not in page.text  # the reason is for the bureau, not the public
    url = f"/applications/{certificate.application_id}/certificates/{certificate.id}.pdf"
    assert Browser(app, "wj1").get(url).status == 410
    assert Browser(app, "city").get(url).status == 200


def test_a_reissue_gets_a_new_serial_and_the_old_one_points_to_it(app, world, certificate):
    replacement = reissue_certificate(certificate, world["users"]["city"], "更正团队名称",
                                      holder="湖塘镇太极拳队")
    db.session.commit()

    assert certificate.status == "replaced" and replacement.status == "valid"
    assert replacement.serial != certificate.serial and replacement.code != certificate.code
    assert replacement.replaces_id == certificate.id
    assert "湖塘镇太极拳队" in pdf_text(certificate_pdf(replacement).read_bytes())
    old = Browser(app).get(f"/verify/{certificate.code}")
    assert f"被证书 {replacement.serial} 替换，以新证书为准" in old.text
    new = Browser(app).get(f"/verify/{replacement.code}")
    assert "真实有效" in new.text and "湖塘镇太极拳队" in new.text


def test_search_by_serial_and_holder_finds_only_an_exact_pair(app, certificate):
    browser = Browser(app)
    found = browser.get(f"/verify?serial={certificate.serial}&holder={certificate.holder}")
    assert found.status == 200 and "真实有效" in found.text
    wrong = browser.get(f"/verify?serial={certificate.serial}&holder=张三")
    assert wrong.status == 404 and "未找到匹配的证书" in wrong.text
    assert certificate.holder not in wrong.text and "湖塘" not in wrong.text
    empty = browser.get("/verify?serial=&holder=张三")
    assert empty.status == 422 and "请填写证书编号" in empty.text
    unknown = browser.get("/verify/not-a-code")
    assert unknown.status == 404 and "未找到匹配的证书" in unknown.text


def test_lookups_are_logged_and_limited_per_address(app, certificate):
    app.config["VERIFY_MAX_PER_MINUTE"] = 3
    browser = Browser(app)
    assert browser.get(f"/verify/{certificate.code}").status == 200
    assert browser.get("/verify/guess-1").status == 404
    api = app.test_client()
    assert api.get(f"/api/v1/certificates/{certificate.code}").status_code == 200
    refused = browser.get("/verify/guess-2")
    assert refused.status == 429 and refused.response.headers["Retry-After"] == "60"
    api_refused = api.get(f"/api/v1/certificates/{certificate.code}")
    assert api_refused.status_code == 429

    logged = db.session.execute(select(VerificationLog.query, VerificationLog.result)
                                .order_by(VerificationLog.id)).all()
    assert logged == [(certificate.code, "valid"), ("guess-1", "not_found"),
                      (certificate.code, "valid")]  # refused lookups are not logged again
    page = Browser(app, "city").get(f"/admin/calls/{certificate.application.call_id}/certificates")
    assert "最近 7 天 3 次" in page.text
    assert db.session.scalar(select(func.count()).select_from(VerificationLog)) == 3


def test_the_city_downloads_a_zip_and_a_print_run_and_every_hand_out_is_logged(
        app, world, make_application, certificate):
    users = world["users"]
    other = make_application("tn1", name="天宁合唱团")
    fire(other, "submit", users["tn1"])
    fire(other, "recommend", users["tn_admin"], data={"rank": 1, "opinion": "推荐"})
    save_review(confirmed(assign_expert(other, users["expert2"], users["city"])),
                users["expert2"], SCORES, "", submit=True)
    fire(other, "publish_notice", users["city"])
    fire(other, "name_team", users["city"])
    db.session.commit()
    city = Browser(app, "city")
    call_id = certificate.application.call_id

    archive = city.get(f"/admin/calls/{call_id}/certificates.zip").response
    names = zipfile.ZipFile(io.BytesIO(archive.get_data())).namelist()
    assert names == ["YXTD-2026-0001-湖塘太极拳队.pdf", "YXTD-2026-0002-天宁合唱团.pdf"]
    page = city.get(f"/admin/calls/{call_id}/certificates")
    form = page.form("/certificates/print")
    started = city.submit(page, form, button=("order", "district"))  # the job runs at once here
    page = city.get(started.response.headers["Location"])
    assert "下载印制文件（2 页，按区排序）" in page.text
    job = db.session.scalar(select(Job).where(Job.kind == "print_run"))
    run = city.get(f"/admin/jobs/{job.id}/file").response
    assert run.mimetype == "application/pdf"
    pages = PdfReader(io.BytesIO(run.get_data())).pages
    texts = ["".join(page.extract_text().split()) for page in pages]
    assert len(pages) == 2 and "天宁合唱团" in texts[0] and "湖塘太极拳队" in texts[1]  # TN < WJ
    own = Browser(app, "wj1").get(
        f"/applications/{certificate.application_id}/certificates/{certificate.id}.pdf")
    assert own.status == 200
    assert Browser(app, "wj1").get(f"/admin/calls/{call_id}/certificates.zip").status == 403

    logged = db.session.execute(select(CertificateDownload.kind, CertificateDownload.count)
                                .order_by(CertificateDownload.id)).all()
    assert logged == [("zip", 2), ("print", 2), ("pdf", 1)]
    page = city.get(f"/admin/calls/{call_id}/certificates")
    assert "印制用单一文件" in page.text and "证书打包" in page.text
    assert Browser(app, "wj_admin").get(f"/admin/jobs/{job.id}/file").status == 403


def test_the_printed_qr_code_scans_to_the_public_verification_page(app, client, certificate):
    import pypdfium2
    import zxingcpp

    pdf = certificate_pdf(certificate)
    page = pypdfium2.PdfDocument(str(pdf))[0]
    scanned = zxingcpp.read_barcodes(page.render(scale=3).to_pil())  # a 216 dpi scan
    assert [code.text for code in scanned] == [
        f"http://pingshen.test/verify/{certificate.code}"]
    shown = client.get(scanned[0].text.removeprefix("http://pingshen.test"))
    assert shown.status_code == 200 and certificate.serial in shown.get_data(as_text=True)
