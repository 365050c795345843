"""Patients: who we contact, how, and what they have asked of us."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Date, Index, Integer, String, false, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rmc_outreach.clock import now
from rmc_outreach.db import Base, UtcDateTime

if TYPE_CHECKING:
    from rmc_outreach.models.referrals import Referral


class Patient(Base):
    """A patient, keyed by NHS number. Phones are E.164; flags follow the Accessible Information
    Standard and the patient's own wishes. Opt-outs record when and how they were made."""

    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nhs_number: Mapped[str] = mapped_column(String(10), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)

    # Indexed: inbound SMS are matched to patients by their mobile number.
    mobile_phone: Mapped[str | None] = mapped_column(String(16), index=True)
    # Indexed too: the no-redial lockout (and caller recognition) find patients by number.
    landline_phone: Mapped[str | None] = mapped_column(String(16), index=True)
    carer_phone: Mapped[str | None] = mapped_column(String(16))

    address_line_1: Mapped[str | None] = mapped_column(String(100))
    address_line_2: Mapped[str | None] = mapped_column(String(100))
    address_line_3: Mapped[str | None] = mapped_column(String(100))
    address_line_4: Mapped[str | None] = mapped_column(String(100))
    address_line_5: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(8))

    no_voicemail: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    no_sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    letter_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Calls go to the landline only; the mobile is never called or texted.
    landline_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    large_print: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    language: Mapped[str | None] = mapped_column(String(35))

    sms_opted_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sms_opt_out_source: Mapped[str | None] = mapped_column(String(40))
    contact_opted_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    contact_opt_out_source: Mapped[str | None] = mapped_column(String(40))

    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, onupdate=now)

    referrals: Mapped[list[Referral]] = relationship(back_populates="patient")

    @property
    def has_postal_address(self) -> bool:
        """A letter can be sent: a first address line and a postcode."""
        return bool(self.address_line_1 and self.postcode)

    @property
    def number_to_call(self) -> str | None:
        """The number calls go to: the mobile first, else the landline; only ever the landline
        for a landline-only patient (None when they have none)."""
        if self.landline_only:
            return self.landline_phone
        return self.mobile_phone or self.landline_phone

    @property
    def number_to_text(self) -> str | None:
        """The number texts go to: the mobile, never for a landline-only patient."""
        return None if self.landline_only else self.mobile_phone


# The referral search by name (``rmc_outreach.referral_search``): a prefix of the family name
# (then of the given name), in name order. On PostgreSQL the migration builds both with
# COLLATE "C", so a prefix is a byte range and the index gives the order too.
Index(
    "ix_patient_name_search",
    func.lower(Patient.family_name),
    func.lower(Patient.given_name),
    Patient.id,
)
Index("ix_patient_given_name_search", func.lower(Patient.given_name), Patient.id)
