//! The field's vocabulary, as the national mediation tool (La Coop de la médiation numérique)
//! records an activity: types, themes, administrative-procedure themes, places, equipment,
//! duration bands, workshop levels, autonomy, and the beneficiary's profile (gender, age band,
//! situation). Each list is closed: a value outside it is refused where it enters (the GraphQL
//! enums), so the statistics always add up to the same categories as the Coop's.
use serde::{Deserialize, Serialize};

/// Declares a closed list: the enum (SCREAMING_SNAKE_CASE in JSON), `ALL` in a stable order,
/// its index (for counting arrays and bit masks) and its code as written in JSON.
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in the order of the field's list.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// Its place in [`Self::ALL`].
            pub fn index(self) -> usize {
                self as usize
            }

            /// Its code, as JSON and the CSV export write it.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The value of a code.
            pub fn from_code(code: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.code() == code)
            }
        }
    };
}

vocabulary!(
    /// What kind of activity: the Coop's three types.
    ActivityKind {
        /// One person helped one to one (accompagnement individuel).
        IndividualAccompaniment = "INDIVIDUAL_ACCOMPANIMENT",
        /// Help with an administrative procedure (démarche administrative).
        AdministrativeProcedure = "ADMINISTRATIVE_PROCEDURE",
        /// A collective workshop (atelier collectif): a session of a workshop.
        CollectiveWorkshop = "COLLECTIVE_WORKSHOP",
    }
);

vocabulary!(
    /// The themes of an accompaniment or a workshop (several per activity).
    Theme {
        /// Prendre en main du matériel.
        EquipmentHandling = "EQUIPMENT_HANDLING",
        /// Naviguer sur internet.
        InternetBrowsing = "INTERNET_BROWSING",
        /// E-mail.
        Email = "EMAIL",
        /// Bureautique.
        OfficeTools = "OFFICE_TOOLS",
        /// Réseaux sociaux et communication.
        SocialNetworks = "SOCIAL_NETWORKS",
        /// Santé.
        Health = "HEALTH",
        /// Banque et achats en ligne.
        BankingAndShopping = "BANKING_AND_SHOPPING",
        /// Entrepreneuriat.
        Entrepreneurship = "ENTREPRENEURSHIP",
        /// Insertion professionnelle (emploi, formation).
        JobSearchAndTraining = "JOB_SEARCH_AND_TRAINING",
        /// Prévention en sécurité numérique.
        OnlineSafety = "ONLINE_SAFETY",
        /// Parentalité.
        Parenting = "PARENTING",
        /// Scolarité et numérique.
        SchoolingAndDigital = "SCHOOLING_AND_DIGITAL",
        /// Créer avec le numérique.
        CreatingWithDigital = "CREATING_WITH_DIGITAL",
        /// Culture numérique.
        DigitalCulture = "DIGITAL_CULTURE",
    }
);

vocabulary!(
    /// The themes of an administrative procedure.
    ProcedureTheme {
        /// Papiers, élections, citoyenneté.
        PapersElectionsCitizenship = "PAPERS_ELECTIONS_CITIZENSHIP",
        /// Famille, scolarité.
        FamilySchooling = "FAMILY_SCHOOLING",
        /// Social, santé.
        SocialHealth = "SOCIAL_HEALTH",
        /// Travail, formation.
        WorkTraining = "WORK_TRAINING",
        /// Logement.
        Housing = "HOUSING",
        /// Transports, mobilité.
        Transport = "TRANSPORT",
        /// Argent, impôts.
        MoneyTaxes = "MONEY_TAXES",
        /// Justice.
        Justice = "JUSTICE",
        /// Étrangers, Europe.
        ForeignersEurope = "FOREIGNERS_EUROPE",
        /// Loisirs, sports, culture.
        LeisureSportCulture = "LEISURE_SPORT_CULTURE",
    }
);

vocabulary!(
    /// Where an activity took place.
    Place {
        /// In the structure (or the school) itself.
        Structure = "STRUCTURE",
        /// At the person's home.
        Home = "HOME",
        /// Remotely (phone, video).
        Remote = "REMOTE",
        /// Another place (a workshop held outside the structure).
        OtherPlace = "OTHER_PLACE",
    }
);

vocabulary!(
    /// Equipment used during the activity.
    EquipmentUsed {
        /// A computer.
        Computer = "COMPUTER",
        /// A phone.
        Phone = "PHONE",
        /// A tablet.
        Tablet = "TABLET",
        /// Something else.
        Other = "OTHER",
        /// None.
        NoEquipment = "NO_EQUIPMENT",
    }
);

vocabulary!(
    /// The Coop's duration bands.
    DurationBand {
        /// Less than 30 minutes.
        Under30Min = "UNDER_30_MIN",
        /// 30 minutes to less than an hour.
        From30MinTo1H = "FROM_30_MIN_TO_1_H",
        /// 1 hour to less than 2 hours.
        From1HTo2H = "FROM_1_H_TO_2_H",
        /// 2 hours or more.
        Over2H = "OVER_2_H",
    }
);

vocabulary!(
    /// The level of a workshop.
    WorkshopLevel {
        /// Débutant.
        Beginner = "BEGINNER",
        /// Intermédiaire.
        Intermediate = "INTERMEDIATE",
        /// Avancé.
        Advanced = "ADVANCED",
    }
);

vocabulary!(
    /// How autonomous the person was during individual help.
    Autonomy {
        /// Entièrement accompagné.
        FullyAccompanied = "FULLY_ACCOMPANIED",
        /// A participé.
        TookPart = "TOOK_PART",
        /// Plutôt autonome.
        RatherAutonomous = "RATHER_AUTONOMOUS",
    }
);

vocabulary!(
    /// A beneficiary's gender, as the Coop records it.
    Gender {
        /// Female.
        Female = "FEMALE",
        /// Male.
        Male = "MALE",
        /// Not given.
        NotGiven = "NOT_GIVEN",
    }
);

vocabulary!(
    /// A beneficiary's age band.
    AgeBand {
        /// Under 12.
        Under12 = "UNDER_12",
        /// 12 to 17.
        From12To17 = "FROM_12_TO_17",
        /// 18 to 24.
        From18To24 = "FROM_18_TO_24",
        /// 25 to 39.
        From25To39 = "FROM_25_TO_39",
        /// 40 to 59.
        From40To59 = "FROM_40_TO_59",
        /// 60 to 69.
        From60To69 = "FROM_60_TO_69",
        /// 70 and over.
        From70 = "FROM_70",
        /// Not given.
        NotGiven = "NOT_GIVEN",
    }
);

vocabulary!(
    /// A beneficiary's situation.
    Situation {
        /// In school or studying.
        InSchool = "IN_SCHOOL",
        /// Looking for a job.
        JobSeeking = "JOB_SEEKING",
        /// Employed.
        Employed = "EMPLOYED",
        /// Retired.
        Retired = "RETIRED",
        /// Not given.
        NotGiven = "NOT_GIVEN",
    }
);

vocabulary!(
    /// Who a workshop is for (C4: "identifier le public à accompagner").
    Public {
        /// Anyone.
        GeneralPublic = "GENERAL_PUBLIC",
        /// Teachers of the school it is held in (feeds the Formation axis).
        Teachers = "TEACHERS",
        /// Parents (feeds the palier-3 criterion on training that includes parents).
        Parents = "PARENTS",
        /// Pupils.
        Pupils = "PUPILS",
        /// Seniors.
        Seniors = "SENIORS",
        /// Job seekers.
        JobSeekers = "JOB_SEEKERS",
    }
);

impl DurationBand {
    /// The band of a duration in minutes.
    pub fn of_minutes(minutes: u16) -> DurationBand {
        match minutes {
            0..30 => DurationBand::Under30Min,
            30..60 => DurationBand::From30MinTo1H,
            60..120 => DurationBand::From1HTo2H,
            _ => DurationBand::Over2H,
        }
    }
}
