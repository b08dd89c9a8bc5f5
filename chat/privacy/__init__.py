"""Personal data (R4): find, export and erase what is stored about a visitor, and anonymise
conversations whose site's retention has run out. Every run is logged as a
`PersonalDataAction`, with counts and ids, never the data itself (docs/privacy.md)."""

from .selectors import personal_data_export, personal_data_find, personal_data_summary
from .services import ERASED, conversations_anonymise_expired, personal_data_erase

__all__ = [
    "ERASED",
    "conversations_anonymise_expired",
    "personal_data_erase",
    "personal_data_export",
    "personal_data_find",
    "personal_data_summary",
]
