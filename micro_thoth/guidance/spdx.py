"""Licence names as SPDX identifiers: trove classifiers and common spellings mapped to SPDX ids.

Only unambiguous names are mapped ("BSD License" names no one licence, so it stays as
written). Keys are compared without case, spaces collapsed; a classifier is looked up
by its last segment (``License :: OSI Approved :: MIT License`` -> ``MIT License``).
"""

from __future__ import annotations

from typing import Optional

_NAMES = {
    "MIT": ("MIT License", "MIT", "Expat", "The MIT License"),
    "MIT-0": ("MIT No Attribution License (MIT-0)",),
    "Apache-2.0": ("Apache Software License 2.0", "Apache 2.0", "Apache License 2.0", "Apache-2", "Apache 2",
                   "Apache License, Version 2.0", "Apache License Version 2.0", "ASL 2.0", "Apache Software License, Version 2.0"),
    "BSD-2-Clause": ("BSD 2-Clause", "BSD-2", "2-clause BSD", "Simplified BSD", "BSD 2-Clause License", "FreeBSD"),
    "BSD-3-Clause": ("BSD 3-Clause", "BSD-3", "3-clause BSD", "New BSD", "Modified BSD", "BSD 3-Clause License", "Revised BSD"),
    "GPL-2.0-only": ("GNU General Public License v2 (GPLv2)", "GPLv2", "GPL v2", "GPL-2.0", "GPL2"),
    "GPL-2.0-or-later": ("GNU General Public License v2 or later (GPLv2+)", "GPLv2+", "GPL-2.0+", "GPL v2 or later"),
    "GPL-3.0-only": ("GNU General Public License v3 (GPLv3)", "GPLv3", "GPL v3", "GPL-3.0", "GPL3"),
    "GPL-3.0-or-later": ("GNU General Public License v3 or later (GPLv3+)", "GPLv3+", "GPL-3.0+", "GPL v3 or later"),
    "LGPL-2.0-only": ("GNU Lesser General Public License v2 (LGPLv2)", "LGPLv2"),
    "LGPL-2.0-or-later": ("GNU Lesser General Public License v2 or later (LGPLv2+)", "LGPLv2+"),
    "LGPL-2.1-only": ("LGPLv2.1", "LGPL-2.1", "LGPL 2.1"),
    "LGPL-2.1-or-later": ("LGPLv2.1+", "LGPL-2.1+"),
    "LGPL-3.0-only": ("GNU Lesser General Public License v3 (LGPLv3)", "LGPLv3", "LGPL-3.0", "LGPL 3"),
    "LGPL-3.0-or-later": ("GNU Lesser General Public License v3 or later (LGPLv3+)", "LGPLv3+", "LGPL-3.0+"),
    "AGPL-3.0-only": ("GNU Affero General Public License v3", "AGPLv3", "AGPL-3.0", "AGPL v3"),
    "AGPL-3.0-or-later": ("GNU Affero General Public License v3 or later (AGPLv3+)", "AGPLv3+", "AGPL-3.0+"),
    "MPL-1.1": ("Mozilla Public License 1.1 (MPL 1.1)", "MPL 1.1"),
    "MPL-2.0": ("Mozilla Public License 2.0 (MPL 2.0)", "MPL 2.0", "MPLv2", "Mozilla Public License 2.0"),
    "ISC": ("ISC License (ISCL)", "ISC License", "ISCL"),
    "PSF-2.0": ("Python Software Foundation License", "PSF", "PSFL", "PSF License", "Python Software Foundation License 2.0"),
    "Unlicense": ("The Unlicense (Unlicense)", "The Unlicense", "Unlicense"),
    "CC0-1.0": ("CC0 1.0 Universal (CC0 1.0) Public Domain Dedication", "CC0", "CC0 1.0"),
    "EPL-1.0": ("Eclipse Public License 1.0 (EPL-1.0)", "EPL 1.0"),
    "EPL-2.0": ("Eclipse Public License 2.0 (EPL-2.0)", "EPL 2.0"),
    "EUPL-1.2": ("European Union Public Licence 1.2 (EUPL 1.2)", "EUPL 1.2"),
    "BSL-1.0": ("Boost Software License 1.0 (BSL-1.0)", "Boost Software License 1.0"),
    "Zlib": ("zlib/libpng License", "zlib License", "zlib"),
    "HPND": ("Historical Permission Notice and Disclaimer (HPND)",),
    "0BSD": ("BSD Zero Clause License", "Zero-Clause BSD"),
}  # fmt: skip


def _key(text: str) -> str:
    return " ".join(text.split()).lower()


_SPDX = {_key(spdx): spdx for spdx in _NAMES}
_SPDX.update({_key(name): spdx for spdx, names in _NAMES.items() for name in names})


def spdx_id(text: str) -> Optional[str]:
    """The SPDX id of a licence name, an SPDX id or a trove classifier; None when it names no one licence."""
    name = text.rsplit("::", 1)[-1] if text.lstrip().startswith("License ::") else text
    return _SPDX.get(_key(name))
