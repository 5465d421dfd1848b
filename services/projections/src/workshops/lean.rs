//! A hand-written reader of the `ActivityRecorded` payload, for the fold's hot path: it reads
//! the fields the read model keeps straight from the bytes (strings borrowed, vocabulary lists
//! into bit masks, beneficiaries into a reused buffer), with none of serde's per-field
//! machinery. It reads only the plain JSON Palier writes; anything else — an escaped string, a
//! duplicate or missing field, an unknown code, a number out of range, trailing bytes — makes
//! it answer `None`, and the fold then reads the payload with serde (which accepts what it
//! accepts, or says why not). So it never accepts what serde would refuse, and where both
//! read a payload they read the same facts (`tests.rs` checks both on generated payloads).
use chrono::NaiveDate;
use palier_domain::mediation::{
    ActivityKind, AgeBand, EquipmentUsed, Gender, Place, ProcedureTheme, Situation, Theme,
};

/// Where an activity happened, as written (borrowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum VenueRef<'a> {
    /// A structure's id.
    Structure(&'a str),
    /// An establishment's UAI.
    Establishment(&'a str),
}

/// One beneficiary as the read model keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BeneficiaryFacts {
    pub person: Option<uuid::Uuid>,
    pub gender: Gender,
    pub age_band: AgeBand,
    pub situation: Situation,
    /// Their commune, interned by the caller (see [`read_activity`]).
    pub commune: Option<u32>,
}

/// The facts of one `ActivityRecorded` the read model keeps (its beneficiaries go to a buffer
/// the caller reuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ActivityFacts<'a> {
    pub venue: VenueRef<'a>,
    pub mediator: &'a str,
    pub kind: ActivityKind,
    pub date: NaiveDate,
    pub duration: u16,
    pub place: Place,
    pub equipment: u32,
    pub themes: u32,
    pub procedure_themes: u32,
}

/// Reads `text` (an `ActivityRecorded` payload), its beneficiaries into `beneficiaries`
/// (cleared first), their communes through `commune` (which gives each its number);
/// `None` when it is not the plain JSON this reader knows (see the module).
pub(super) fn read_activity<'a>(
    text: &'a str,
    beneficiaries: &mut Vec<BeneficiaryFacts>,
    commune: &mut impl FnMut(&str) -> u32,
) -> Option<ActivityFacts<'a>> {
    beneficiaries.clear();
    let mut c = Cursor {
        text,
        at: 0,
        depth: 0,
    };
    let mut seen = 0u16;
    let (mut venue, mut mediator, mut kind, mut date, mut duration, mut place) =
        (None, None, None, None, None, None);
    let (mut equipment, mut themes, mut procedure_themes) = (None, 0, 0);
    c.object(|c, key| {
        let bit = match key {
            "venue" => 0,
            "mediator" => 1,
            "kind" => 2,
            "date" => 3,
            "duration" => 4,
            "place" => 5,
            "equipment" => 6,
            "themes" => 7,
            "procedureThemes" => 8,
            "beneficiaries" => 9,
            "activityId" => 10,
            "autonomy" => 11,
            "orientedTo" => 12,
            _ => return c.skip_value(),
        };
        // serde refuses a field given twice.
        if seen & (1 << bit) != 0 {
            return None;
        }
        seen |= 1 << bit;
        match bit {
            0 => venue = Some(c.venue()?),
            1 => mediator = Some(c.string()?),
            2 => kind = Some(code(c.string()?)?),
            3 => date = Some(day(c.string()?)?),
            4 => duration = Some(u16::try_from(c.unsigned()?).ok()?),
            5 => place = Some(code(c.string()?)?),
            6 => equipment = Some(c.mask(|s| code::<EquipmentUsed>(s).map(EquipmentUsed::index))?),
            7 => themes = c.mask(|s| code::<Theme>(s).map(Theme::index))?,
            8 => {
                procedure_themes =
                    c.mask(|s| code::<ProcedureTheme>(s).map(ProcedureTheme::index))?;
            }
            9 => c.array(|c| {
                beneficiaries.push(c.beneficiary(commune)?);
                Some(())
            })?,
            // Fields the read model does not keep (the id comes from the stream's name).
            _ => c.skip_value()?,
        }
        Some(())
    })?;
    c.ws();
    if c.at != c.text.len() {
        return None;
    }
    Some(ActivityFacts {
        venue: venue?,
        mediator: mediator?,
        kind: kind?,
        date: date?,
        duration: duration?,
        place: place?,
        equipment: equipment?,
        themes,
        procedure_themes,
    })
}

/// A vocabulary value by its name in JSON: serde's own names (which are not always the codes
/// reports write: `FROM60_TO69` in events, `FROM_60_TO_69` in reports), matched by serde.
fn code<'a, T: serde::Deserialize<'a>>(name: &'a str) -> Option<T> {
    T::deserialize(serde::de::value::BorrowedStrDeserializer::<
        serde::de::value::Error,
    >::new(name))
    .ok()
}

/// A day written `YYYY-MM-DD` (chrono's general parser is slower, and the fold reads one per
/// event).
pub(super) fn day(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| {
        b.get(r)?.iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(
        i32::try_from(digits(0..4)?).ok()?,
        digits(5..7)?,
        digits(8..10)?,
    )
}

/// Where a string's body ends in `bytes`: the first quote, backslash or control byte (JSON
/// forbids raw control bytes in strings), eight bytes at a time.
pub(super) fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        // A byte equal to `b`: (x - 1) & !x has its high bit set where x is 0 (exact for the
        // first such byte, which is all that is asked).
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        let quote = zero(v ^ (ONES * u64::from(b'"')));
        let backslash = zero(v ^ (ONES * u64::from(b'\\')));
        let control = v.wrapping_sub(ONES * 0x20) & !v & HIGH;
        let found = quote | backslash | control;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let tail = chunks.remainder();
    tail.iter()
        .position(|b| *b == b'"' || *b == b'\\' || *b < 0x20)
        .map(|i| offset + i)
}

/// Deepest nesting skipped (deeper: `None`, and serde, with its own limit, decides).
const MAX_DEPTH: u32 = 32;

struct Cursor<'a> {
    text: &'a str,
    at: usize,
    /// Nesting of the values being skipped.
    depth: u32,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    /// Skips blanks, then takes `byte`.
    fn eat(&mut self, byte: u8) -> Option<()> {
        self.ws();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A string without escapes, borrowed (an escape: `None`, serde reads it).
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = self.text.as_bytes().get(start..)?;
        let len = string_end(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        // Both ends are ASCII bytes of a `str`: always char boundaries.
        self.text.get(start..start + len)
    }

    /// A non-negative integer (no sign, fraction or exponent: `None`, serde reads it).
    fn unsigned(&mut self) -> Option<u64> {
        self.ws();
        let start = self.at;
        let mut n: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.at += 1;
        }
        if self.at == start || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        // JSON forbids leading zeros.
        if self.at - start > 1 && self.text.as_bytes()[start] == b'0' {
            return None;
        }
        Some(n)
    }

    /// `null` (`Some(None)`) or a string without escapes.
    fn nullable_string(&mut self) -> Option<Option<&'a str>> {
        self.ws();
        if self.peek()? == b'n' {
            self.literal("null")?;
            return Some(None);
        }
        self.string().map(Some)
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.ws();
        let end = self.at + word.len();
        (self.text.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// An object: `field` reads each value after its key.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            field(self, key)?;
            self.ws();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array: `item` reads each element.
    fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            item(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A list of codes into a bit mask (`index` of each code; an unknown one: `None`).
    fn mask(&mut self, index: impl Fn(&str) -> Option<usize>) -> Option<u32> {
        let mut mask = 0u32;
        self.array(|c| {
            mask |= 1u32.checked_shl(u32::try_from(index(c.string()?)?).ok()?)?;
            Some(())
        })?;
        Some(mask)
    }

    /// `{"structure": id}` or `{"establishment": uai}` (serde's externally tagged enum).
    fn venue(&mut self) -> Option<VenueRef<'a>> {
        let mut venue = None;
        self.object(|c, key| {
            if venue.is_some() {
                return None;
            }
            venue = Some(match key {
                "structure" => VenueRef::Structure(c.string()?),
                "establishment" => VenueRef::Establishment(c.string()?),
                _ => return None,
            });
            Some(())
        })?;
        venue
    }

    fn beneficiary(&mut self, commune: &mut impl FnMut(&str) -> u32) -> Option<BeneficiaryFacts> {
        let (mut person, mut gender, mut age_band, mut situation) = (None, None, None, None);
        let mut lives_in = None;
        let mut seen = 0u8;
        self.object(|c, key| {
            let bit = match key {
                "person" => 0,
                "gender" => 1,
                "ageBand" => 2,
                "situation" => 3,
                "commune" => 4,
                _ => return c.skip_value(),
            };
            if seen & (1 << bit) != 0 {
                return None;
            }
            seen |= 1 << bit;
            match bit {
                0 => {
                    person = match c.nullable_string()? {
                        Some(id) => Some(uuid::Uuid::try_parse(id).ok()?),
                        None => None,
                    };
                }
                1 => gender = Some(code(c.string()?)?),
                2 => age_band = Some(code(c.string()?)?),
                3 => situation = Some(code(c.string()?)?),
                _ => lives_in = c.nullable_string()?.map(&mut *commune),
            }
            Some(())
        })?;
        Some(BeneficiaryFacts {
            person,
            gender: gender?,
            age_band: age_band?,
            situation: situation?,
            commune: lives_in,
        })
    }

    /// Skips any value this reader can read (strings without escapes, integers, literals,
    /// arrays, objects).
    fn skip_value(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' if self.depth >= MAX_DEPTH => None,
            b'{' => {
                self.depth += 1;
                self.object(|c, _| c.skip_value())?;
                self.depth -= 1;
                Some(())
            }
            b'[' => {
                self.depth += 1;
                self.array(Self::skip_value)?;
                self.depth -= 1;
                Some(())
            }
            b'n' => self.literal("null"),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            _ => self.unsigned().map(|_| ()),
        }
    }
}
