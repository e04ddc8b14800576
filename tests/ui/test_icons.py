"""Tray and application icons: drawn pixels, states, light and dark panels, macOS masks."""

from __future__ import annotations

import pytest

from tokenwatch_desktop.ui import icons
from tokenwatch_desktop.ui.qt import QColor, QIcon, QtGui

QImage = QtGui.QImage


def _image(icon: QIcon, size: int = 64) -> QImage:
    return icon.pixmap(size, size).toImage()


def _opaque(image: QImage) -> int:
    return sum(
        1
        for y in range(image.height())
        for x in range(image.width())
        if image.pixelColor(x, y).alpha() > 128
    )


def _count(image: QImage, match: object) -> int:
    return sum(
        1
        for y in range(image.height())
        for x in range(image.width())
        if match(image.pixelColor(x, y))  # type: ignore[operator]
    )


def _reddish(color: QColor) -> bool:
    return color.alpha() > 200 and color.red() > 180 and color.green() < 90 and color.blue() < 90


def test_app_icon_loads_every_size(qapp: object) -> None:
    icon = icons.app_icon()

    sizes = {(size.width(), size.height()) for size in icon.availableSizes()}

    assert sizes == {(size, size) for size in icons.APP_ICON_SIZES}
    assert not icon.isNull()


def test_app_icon_files_are_package_data(qapp: object) -> None:
    for entry in icons.app_icon_files():
        assert entry.is_file(), entry.name
        assert entry.read_bytes().startswith(b"\x89PNG"), entry.name


@pytest.mark.parametrize("state", icons.STATES)
@pytest.mark.parametrize("dark", [False, True])
def test_tray_icon_draws_every_state(qapp: object, state: str, dark: bool) -> None:
    icon = icons.tray_icon("$12", state, dark)

    assert not icon.isNull()
    assert {size.width() for size in icon.availableSizes()} == set(icons.TRAY_SIZES)
    assert _opaque(_image(icon)) > 100


def test_tray_icon_dark_panel_uses_light_ink(qapp: object) -> None:
    light = _image(icons.tray_icon(None, "fresh", dark=False))
    dark = _image(icons.tray_icon(None, "fresh", dark=True))

    def ink(image: QImage) -> list[int]:
        return [
            image.pixelColor(x, y).lightness()
            for y in range(image.height())
            for x in range(image.width())
            if image.pixelColor(x, y).alpha() == 255
        ]

    assert max(ink(light)) < 80
    assert min(ink(dark)) > 180


def test_tray_icon_text_differs_from_glyph(qapp: object) -> None:
    glyph = _image(icons.tray_icon(None, "fresh", dark=False))
    text = _image(icons.tray_icon("$12", "fresh", dark=False))
    other = _image(icons.tray_icon("$99", "fresh", dark=False))

    assert text != glyph
    assert text != other


def test_tray_icon_long_text_falls_back_to_glyph(qapp: object) -> None:
    glyph = _image(icons.tray_icon(None, "fresh", dark=False))
    long = _image(icons.tray_icon("$12,345.67", "fresh", dark=False))

    assert long == glyph


def test_tray_icon_error_badge_is_red(qapp: object) -> None:
    fresh = _image(icons.tray_icon("$12", "fresh", dark=False))
    error = _image(icons.tray_icon("$12", "error", dark=False))

    assert _count(fresh, _reddish) == 0
    assert _count(error, _reddish) > 50


def test_tray_icon_stale_is_dimmed(qapp: object) -> None:
    fresh = _image(icons.tray_icon(None, "fresh", dark=False))
    stale = _image(icons.tray_icon(None, "stale", dark=False))
    first_bar = (12, 50)  # inside the shortest bar, away from the badge

    assert fresh.pixelColor(*first_bar).alpha() == 255
    assert stale.pixelColor(*first_bar).alpha() < 200


def test_tray_icon_states_differ(qapp: object) -> None:
    images = [_image(icons.tray_icon("$12", state, dark=False)) for state in icons.STATES]

    for index, image in enumerate(images):
        for other in images[index + 1:]:
            assert image != other


def test_tray_icon_unknown_state_rejected(qapp: object) -> None:
    with pytest.raises(ValueError, match="unknown tray icon state 'broken'"):
        icons.tray_icon(None, "broken", dark=False)


def test_tray_icon_mask_on_macos(qapp: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(icons, "_is_macos", lambda: True)

    icon = icons.tray_icon("$12", "error", dark=True)
    image = _image(icon)

    assert icon.isMask()
    assert _count(image, lambda c: c.alpha() > 0 and c.lightness() > 40) == 0
    assert _opaque(image) > 100


def test_tray_icon_not_mask_elsewhere(qapp: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(icons, "_is_macos", lambda: False)

    assert not icons.tray_icon("$12", "fresh", dark=True).isMask()
