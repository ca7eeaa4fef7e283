/**
 * The coded value sets Lucida accepts for clinical photographs, transcribed from DICOM PS3.16:
 *
 * - Anatomic sites (Anatomic Region Sequence (0008,2218)): CID 4029 "Dermatology Anatomic Site"
 *   (version 20240913, complete), CID 4031 "Common Anatomic Region" (20250709, complete) and CID 4028
 *   "Craniofacial Anatomic Region" (20250908, complete). CID 4029 mixes SNOMED CT (SCT) with FMA and
 *   DICOM (DCM) codes where SNOMED CT has no concept; they are kept with their own schemes.
 * - Laterality: CID 244 (version 20030108), which includes CID 247; mapped to Image Laterality (0020,0062).
 * - Views (View Code Sequence (0054,0220)): CID 4062 "VL View" (20250330) and CID 4063 "VL Dental View"
 *   (20250330), the groups PS3.3 names for VL images.
 *
 * Each table is data copied from the standard, code value and Code Meaning exactly as published.
 * Clients may send their own display text, but Lucida always writes the standard Code Meaning into
 * the instance (PS3.3 §8.3: the meaning is the standard's, not a local label), so two photographs of
 * the same site carry the same text whatever the capture station called it.
 *
 * `facial` marks sites and views whose photographs show the face, or a part of it people recognise
 * (eyes, nose, lips, ears, the whole head or body). The capture paths set Recognizable Visual
 * Features (0028,0302) to YES for them, so de-identified exports know to clean the pixels.
 */
import type { CodedConcept } from './types.js';

export type CodingScheme = 'SCT' | 'FMA' | 'DCM';
type Row = readonly [scheme: CodingScheme, code: string, meaning: string];

/** PS3.16 CID 4029 Dermatology Anatomic Site, every row (version 20240913). */
export const CID_4029_DERMATOLOGY_ANATOMIC_SITE: readonly Row[] = [
  ['SCT', '182329002', 'Anterior triangle of neck'],
  ['SCT', '28726007', 'Cornea'],
  ['SCT', '85803001', 'Eyelash'],
  ['SCT', '279479008', 'Female external urethral orifice'],
  ['SCT', '279867004', 'Frenulum of labia minora'],
  ['SCT', '280387007', 'Groin skin crease'],
  ['SCT', '386045008', 'Hair'],
  ['SCT', '41296002', 'Iris'],
  ['SCT', '279478000', 'Male external urethral orifice'],
  ['FMA', '281534', 'Mucosa of dorsum of oral part of tongue'],
  ['FMA', '281537', 'Mucosa of dorsum of pharyngeal part of tongue'],
  ['SCT', '36152006', 'Mucosa of floor of mouth'],
  ['SCT', '46353006', 'Mucosa of lower lip'],
  ['SCT', '245823002', 'Mucosa of mandibular gingiva'],
  ['SCT', '245814000', 'Mucosa of maxillary gingiva'],
  ['FMA', '289677', 'Mucosa of oral segment of hard palate'],
  ['FMA', '60031', 'Mucosa of palatoglossal arch'],
  ['FMA', '55031', 'Mucosa of pharynx'],
  ['FMA', '55060', 'Mucosa of posterior wall of oropharynx'],
  ['SCT', '245831007', 'Mucosa of tip of tongue'],
  ['SCT', '8001006', 'Mucosa of tongue'],
  ['SCT', '18444004', 'Mucosa of upper lip'],
  ['FMA', '60030', 'Mucosa of uvula'],
  ['SCT', '770820003', 'Nail unit of fifth toe'],
  ['SCT', '770809003', 'Nail unit of finger'],
  ['SCT', '770821004', 'Nail unit of fourth toe'],
  ['SCT', '770822006', 'Nail unit of great toe'],
  ['SCT', '770815003', 'Nail unit of index finger'],
  ['SCT', '770818001', 'Nail unit of little finger'],
  ['SCT', '770816002', 'Nail unit of middle finger'],
  ['SCT', '770817006', 'Nail unit of ring finger'],
  ['SCT', '770823001', 'Nail unit of second toe'],
  ['SCT', '770825008', 'Nail unit of third toe'],
  ['SCT', '770810008', 'Nail unit of thumb'],
  ['SCT', '770805009', 'Nail unit of toe'],
  ['SCT', '113277000', 'Oral mucosa'],
  ['SCT', '4019005', 'Posterior commissure of labium majorum'],
  ['SCT', '5665001', 'Retina'],
  ['SCT', '18619003', 'Sclera'],
  ['SCT', '39937001', 'Skin'],
  ['SCT', '75093004', 'Skin of abdomen'],
  ['SCT', '68598004', 'Skin of ala nasi'],
  ['SCT', '17957002', 'Skin of antecubital fossa'],
  ['DCM', '130305', 'Skin of anterior helix of ear'],
  ['SCT', '11584001', 'Skin of anterior portion of neck'],
  ['SCT', '70559009', 'Skin of anterior surface of forearm'],
  ['SCT', '181553006', 'Skin of anterior surface of knee'],
  ['SCT', '25763004', 'Skin of anterior surface of lower leg'],
  ['SCT', '61248009', 'Skin of anterior surface of thigh'],
  ['SCT', '244106003', 'Skin of anterior surface of thorax'],
  ['SCT', '45981001', 'Skin of anterior surface of upper arm'],
  ['SCT', '181491009', 'Skin of anterior trunk'],
  ['SCT', '38407007', 'Skin of antitragus'],
  ['SCT', '59112000', 'Skin of anus'],
  ['SCT', '72005009', 'Skin of areola'],
  ['SCT', '76261009', 'Skin of axilla'],
  ['SCT', '66643007', 'Skin of back'],
  ['FMA', '49943', 'Skin of back of trunk'],
  ['SCT', '699893008', 'Skin of back of upper thoracic region'],
  ['SCT', '82038008', 'Skin of breast'],
  ['SCT', '22180002', 'Skin of buttock'],
  ['DCM', '130306', 'Skin of caruncle of eye'],
  ['SCT', '51098001', 'Skin of cavity of concha'],
  ['SCT', '36141000', 'Skin of cheek'],
  ['SCT', '23747009', 'Skin of chin'],
  ['SCT', '29353003', 'Skin of clitoris'],
  ['SCT', '57726007', 'Skin of crus of helix'],
  ['SCT', '244169007', 'Skin of digit of hand'],
  ['SCT', '52876008', 'Skin of dorsal area of wrist'],
  ['FMA', '37885', 'Skin of dorsal part of fifth toe'],
  ['FMA', '37882', 'Skin of dorsal part of fourth toe'],
  ['FMA', '37873', 'Skin of dorsal part of great toe'],
  ['FMA', '38324', 'Skin of dorsal part of index finger'],
  ['FMA', '38333', 'Skin of dorsal part of little finger'],
  ['FMA', '38327', 'Skin of dorsal part of middle finger'],
  ['FMA', '38330', 'Skin of dorsal part of ring finger'],
  ['FMA', '37876', 'Skin of dorsal part of second toe'],
  ['FMA', '37879', 'Skin of dorsal part of third toe'],
  ['FMA', '38321', 'Skin of dorsal part of thumb'],
  ['FMA', '59532', 'Skin of dorsum of nose'],
  ['SCT', '1902009', 'Skin of ear'],
  ['SCT', '2059009', 'Skin of ear lobule'],
  ['SCT', '30598005', 'Skin of epigastric area'],
  ['SCT', '86409001', 'Skin of external auditory canal'],
  ['SCT', '60944009', 'Skin of external genitalia'],
  ['SCT', '362916000', 'Skin of eye region'],
  ['SCT', '367577003', 'Skin of eyebrow'],
  ['SCT', '73897004', 'Skin of face'],
  ['SCT', '60496002', 'Skin of foot'],
  ['SCT', '68698007', 'Skin of forehead'],
  ['SCT', '7991003', 'Skin of glans penis'],
  ['SCT', '63029009', 'Skin of gluteal fold'],
  ['SCT', '33712006', 'Skin of hand'],
  ['SCT', '70762009', 'Skin of head'],
  ['SCT', '84607009', 'Skin of heel'],
  ['SCT', '79313003', 'Skin of helix of ear'],
  ['SCT', '367578008', 'Skin of hypogastric region'],
  ['SCT', '89784008', 'Skin of hypothenar region of palm'],
  ['DCM', '130307', 'Skin of inferior helix of ear'],
  ['DCM', '130308', 'Skin of inferior posterior surface of the pinna'],
  ['DCM', '130312', 'Skin of infraalar groove'],
  ['SCT', '66288003', 'Skin of infraclavicular region'],
  ['SCT', '39687006', 'Skin of inguinal region'],
  ['SCT', '45591000', 'Skin of intertragal incisure'],
  ['SCT', '244097004', 'Skin of jawline'],
  ['SCT', '73058008', 'Skin of labium'],
  ['SCT', '128252004', 'Skin of labium majus'],
  ['SCT', '128253009', 'Skin of labium minus'],
  ['SCT', '181564009', 'Skin of lateral aspect of ankle'],
  ['SCT', '35739000', 'Skin of lateral border of sole of foot'],
  ['SCT', '37671003', 'Skin of lateral canthus'],
  ['DCM', '130309', 'Skin of lateral part of dorsum of foot'],
  ['SCT', '699909001', 'Skin of lateral part of heel'],
  ['SCT', '5272005', 'Skin of lateral portion of neck'],
  ['SCT', '88089004', 'Skin of lip'],
  ['SCT', '699914002', 'Skin of lower abdomen'],
  ['DCM', '130310', 'Skin of lower antihelix of ear'],
  ['SCT', '113182001', 'Skin of lower back'],
  ['SCT', '699915001', 'Skin of lower chest wall'],
  ['SCT', '371304004', 'Skin of lower extremity'],
  ['SCT', '40069000', 'Skin of lower eyelid'],
  ['DCM', '130311', 'Skin of lower eyelid margin'],
  ['FMA', '61427', 'Skin of lower inner quadrant of breast'],
  ['SCT', '66934001', 'Skin of lower lip'],
  ['FMA', '61423', 'Skin of lower outer quadrant of breast'],
  ['DCM', '130304', 'Skin of lower paraspinal region'],
  ['SCT', '181563003', 'Skin of medial aspect of ankle'],
  ['SCT', '52953006', 'Skin of medial border of sole of foot'],
  ['SCT', '27887005', 'Skin of medial canthus'],
  ['DCM', '130313', 'Skin of medial part of dorsum of foot'],
  ['SCT', '699919007', 'Skin of medial part of heel'],
  ['SCT', '73958006', 'Skin of medial surface of thigh'],
  ['DCM', '130323', 'Skin of mid back'],
  ['DCM', '130303', 'Skin of mid paraspinal region'],
  ['SCT', '37108007', 'Skin of nasolabial fold'],
  ['SCT', '43081002', 'Skin of neck'],
  ['SCT', '54468004', 'Skin of nipple'],
  ['SCT', '113179006', 'Skin of nose'],
  ['SCT', '4658004', 'Skin of nuchal region'],
  ['SCT', '79951008', 'Skin of occipital region'],
  ['SCT', '70887009', 'Skin of palm of hand'],
  ['SCT', '24527008', 'Skin of palmar area of wrist'],
  ['FMA', '38344', 'Skin of palmar part of index finger'],
  ['FMA', '38357', 'Skin of palmar part of little finger'],
  ['FMA', '38347', 'Skin of palmar part of middle finger'],
  ['FMA', '38354', 'Skin of palmar part of ring finger'],
  ['FMA', '38341', 'Skin of palmar part of thumb'],
  ['DCM', '130314', 'Skin of paranasal cheek'],
  ['DCM', '130300', 'Skin of paraspinal area of the neck'],
  ['DCM', '130301', 'Skin of paraspinal area of the superior back'],
  ['SCT', '21672008', 'Skin of parietal region'],
  ['SCT', '281642007', 'Skin of part of dorsal surface of hand'],
  ['SCT', '35900000', 'Skin of penis'],
  ['SCT', '48014002', 'Skin of perineum'],
  ['SCT', '110488009', 'Skin of perioral region of face'],
  ['SCT', '84365009', 'Skin of philtrum'],
  ['FMA', '38119', 'Skin of plantar part of fifth toe'],
  ['FMA', '38116', 'Skin of plantar part of fourth toe'],
  ['FMA', '38107', 'Skin of plantar part of great toe'],
  ['FMA', '38110', 'Skin of plantar part of second toe'],
  ['FMA', '38113', 'Skin of plantar part of third toe'],
  ['SCT', '84507004', 'Skin of popliteal fossa'],
  ['SCT', '24483006', 'Skin of postauricular region'],
  ['DCM', '130315', 'Skin of posterior helix of ear'],
  ['DCM', '130316', 'Skin of posterior lobule of the ear'],
  ['SCT', '181536004', 'Skin of posterior surface of elbow'],
  ['SCT', '41550009', 'Skin of posterior surface of forearm'],
  ['SCT', '47224004', 'Skin of posterior surface of lower leg'],
  ['SCT', '4578000', 'Skin of posterior surface of thigh'],
  ['SCT', '244111001', 'Skin of posterior surface of thorax'],
  ['SCT', '72939005', 'Skin of posterior surface of upper arm'],
  ['SCT', '86719006', 'Skin of preauricular region'],
  ['SCT', '76723005', 'Skin of prepuce of clitoris'],
  ['SCT', '244117002', 'Skin of root of penis'],
  ['SCT', '43067004', 'Skin of scalp'],
  ['SCT', '81992007', 'Skin of scrotum'],
  ['SCT', '244118007', 'Skin of shaft of penis'],
  ['SCT', '314395006', 'Skin of side of nose'],
  ['DCM', '130317', 'Skin of sole of forefoot'],
  ['SCT', '34926004', 'Skin of submental area'],
  ['DCM', '130318', 'Skin of superior antihelix of ear'],
  ['DCM', '130319', 'Skin of superior posterior helix of ear'],
  ['DCM', '130320', 'Skin of superior posterior surface of the pinna'],
  ['SCT', '76072005', 'Skin of supraclavicular region of neck'],
  ['SCT', '16621002', 'Skin of temporal region'],
  ['SCT', '26795005', 'Skin of thenar region of palm'],
  ['SCT', '79283007', 'Skin of tip of nose'],
  ['SCT', '52034004', 'Skin of toe'],
  ['SCT', '79502000', 'Skin of tragus'],
  ['SCT', '315003', 'Skin of umbilicus'],
  ['SCT', '699935000', 'Skin of upper abdomen'],
  ['DCM', '130321', 'Skin of upper antihelix of ear'],
  ['SCT', '371311000', 'Skin of upper extremity'],
  ['SCT', '41310005', 'Skin of upper eyelid'],
  ['DCM', '130322', 'Skin of upper eyelid margin'],
  ['FMA', '61426', 'Skin of upper inner quadrant of breast'],
  ['SCT', '16251004', 'Skin of upper lip'],
  // As published: this FMA concept is specific to the left breast (laterality pre-coordinated).
  ['FMA', '61439', 'Skin of upper outer quadrant of left breast'],
  ['DCM', '130302', 'Skin of upper paraspinal region'],
  ['SCT', '54440003', 'Skin of upper trunk'],
  ['FMA', '312651', 'Skin of vermilion proper of lower lip'],
  ['FMA', '312647', 'Skin of vermilion proper of upper lip'],
  ['SCT', '61719002', 'Skin of vertex of scalp'],
  ['SCT', '244107007', 'Sternal skin'],
  ['SCT', '5713008', 'Submandibular triangle'],
  ['SCT', '38199008', 'Tooth'],
  ['SCT', '18857001', 'Vaginal introitus'],
  ['SCT', '23213005', 'Vulval vestibule'],
];

/** PS3.16 CID 4031 Common Anatomic Region, every row (version 20250709). */
export const CID_4031_COMMON_ANATOMIC_REGION: readonly Row[] = [
  ['SCT', '818981001', 'Abdomen'],
  ['SCT', '818982008', 'Abdomen and Pelvis'],
  ['SCT', '85856004', 'Acromioclavicular joint'],
  ['SCT', '70258002', 'Ankle joint'],
  ['SCT', '53505006', 'Anus'],
  ['SCT', '86598002', 'Apex of Lung'],
  ['SCT', '28273000', 'Bile duct'],
  ['SCT', '34707002', 'Biliary tract'],
  ['SCT', '89837001', 'Bladder'],
  ['SCT', '72001000', 'Bone of lower limb'],
  ['SCT', '371195002', 'Bone of upper limb'],
  ['SCT', '76752008', 'Breast'],
  ['SCT', '955009', 'Bronchus'],
  ['SCT', '80144004', 'Calcaneus'],
  ['SCT', '113257007', 'Cardiovascular system'],
  ['SCT', '122494005', 'Cervical spine'],
  ['SCT', '1217257000', 'Cervico-thoracic spine'],
  ['SCT', '816094009', 'Chest'],
  ['SCT', '416775004', 'Chest, Abdomen and Pelvis'],
  ['SCT', '416550000', 'Chest and Abdomen'],
  ['SCT', '51299004', 'Clavicle'],
  ['SCT', '64688005', 'Coccyx'],
  ['SCT', '71854001', 'Colon'],
  ['SCT', '79741001', 'Common bile duct'],
  ['SCT', '38848004', 'Duodenum'],
  ['SCT', '16953009', 'Elbow joint'],
  ['SCT', '38266002', 'Entire body'],
  ['SCT', '32849002', 'Esophagus'],
  ['SCT', '110861005', 'Esophagus, stomach and duodenum'],
  ['SCT', '66019005', 'Extremity'],
  ['SCT', '81745001', 'Eye'],
  ['SCT', '371398005', 'Eye region'],
  ['SCT', '91397008', 'Facial bones'],
  ['SCT', '71341001', 'Femur'],
  ['SCT', '87342007', 'Fibula'],
  ['SCT', '7569003', 'Finger'],
  ['SCT', '56459004', 'Foot'],
  ['SCT', '14975008', 'Forearm'],
  ['SCT', '28231008', 'Gallbladder'],
  ['SCT', '85562004', 'Hand'],
  ['SCT', '69536005', 'Head'],
  ['SCT', '774007', 'Head and Neck'],
  ['SCT', '80891009', 'Heart'],
  ['SCT', '29836001', 'Hip'],
  ['SCT', '24136001', 'Hip Joint'],
  ['SCT', '85050009', 'Humerus'],
  ['SCT', '34516001', 'Ileum'],
  ['SCT', '22356005', 'Ilium'],
  ['SCT', '361078006', 'Internal Auditory Canal'],
  ['SCT', '661005', 'Jaw region'],
  ['SCT', '21306003', 'Jejunum'],
  ['SCT', '72696002', 'Knee'],
  ['SCT', '14742008', 'Large intestine'],
  ['SCT', '4596009', 'Larynx'],
  ['SCT', '303270005', 'Liver and biliary structure'],
  ['SCT', '30021000', 'Lower leg'],
  ['SCT', '61685007', 'Lower limb'],
  ['SCT', '63337009', 'Lower trunk'],
  ['SCT', '122496007', 'Lumbar spine'],
  ['SCT', '1217253001', 'Lumbo-sacral spine'],
  ['SCT', '91609006', 'Mandible'],
  ['SCT', '59066005', 'Mastoid bone'],
  ['SCT', '70925003', 'Maxilla'],
  ['SCT', '72410000', 'Mediastinum'],
  ['SCT', '102292000', 'Muscle of lower limb'],
  ['SCT', '30608006', 'Muscle of upper limb'],
  ['SCT', '74386004', 'Nasal bone'],
  ['SCT', '45048000', 'Neck'],
  ['SCT', '416319003', 'Neck, Chest, Abdomen and Pelvis'],
  ['SCT', '416152001', 'Neck, Chest and Abdomen'],
  ['SCT', '417437006', 'Neck and Chest'],
  ['SCT', '55024004', 'Optic canal'],
  ['SCT', '363654007', 'Orbital structure'],
  ['SCT', '15776009', 'Pancreas'],
  ['SCT', '69930009', 'Pancreatic duct'],
  ['SCT', '110621006', 'Pancreatic duct and bile duct systems'],
  ['SCT', '2095001', 'Paranasal sinus'],
  ['SCT', '45289007', 'Parotid gland'],
  ['SCT', '64234005', 'Patella'],
  ['SCT', '816092008', 'Pelvis'],
  ['SCT', '1231522001', 'Pelvis and lower extremities'],
  ['SCT', '706342009', 'Phantom'],
  ['SCT', '41216001', 'Prostate'],
  ['SCT', '34402009', 'Rectum'],
  ['SCT', '113197003', 'Rib'],
  ['SCT', '1217254007', 'Sacro-coccygeal Spine'],
  ['SCT', '39723000', 'Sacroiliac joint'],
  ['SCT', '54735007', 'Sacrum'],
  ['SCT', '79601000', 'Scapula'],
  ['SCT', '42575006', 'Sella turcica'],
  ['SCT', '58742003', 'Sesamoid bones of foot'],
  ['SCT', '16982005', 'Shoulder'],
  ['SCT', '89546000', 'Skull'],
  ['SCT', '30315005', 'Small intestine'],
  ['SCT', '421060004', 'Spine'],
  ['SCT', '737561001', 'Spine and/or cord'],
  ['SCT', '7844006', 'Sternoclavicular joint'],
  ['SCT', '56873002', 'Sternum'],
  ['SCT', '69695003', 'Stomach'],
  ['SCT', '54019009', 'Submandibular gland'],
  ['SCT', '27949001', 'Tarsal joint'],
  ['SCT', '53620006', 'Temporomandibular joint'],
  ['SCT', '68367000', 'Thigh'],
  ['SCT', '122495006', 'Thoracic spine'],
  ['SCT', '1217256009', 'Thoraco-lumbar spine'],
  ['SCT', '76505004', 'Thumb'],
  ['SCT', '29707007', 'Toe'],
  ['SCT', '44567001', 'Trachea'],
  ['SCT', '22943007', 'Trunk'],
  ['SCT', '40983000', 'Upper arm'],
  ['SCT', '53120007', 'Upper limb'],
  ['SCT', '67734004', 'Upper trunk'],
  ['SCT', '431491007', 'Upper urinary tract'],
  ['SCT', '87953007', 'Ureter'],
  ['SCT', '13648007', 'Urethra'],
  ['SCT', '110639002', 'Uterus and fallopian tubes'],
  ['SCT', '110517009', 'Vertebral column and cranium'],
  ['SCT', '74670003', 'Wrist joint'],
  ['SCT', '13881006', 'Zygoma'],
];

/** PS3.16 CID 4028 Craniofacial Anatomic Region, every row (version 20250908). */
export const CID_4028_CRANIOFACIAL_ANATOMIC_REGION: readonly Row[] = [
  ['SCT', '41845008', 'Auditory ossicle'],
  ['SCT', '312779009', 'Bone structure of head and/or neck'],
  ['SCT', '122494005', 'Cervical spine'],
  ['SCT', '80169004', 'Cochlea'],
  ['SCT', '52374004', 'Ethmoid bone'],
  ['SCT', '28347008', 'External ear'],
  ['SCT', '79652003', 'Eyeball'],
  ['SCT', '371398005', 'Eye region'],
  ['SCT', '91397008', 'Facial bones'],
  ['SCT', '74872008', 'Frontal bone'],
  ['SCT', '69536005', 'Head'],
  ['SCT', '774007', 'Head and Neck'],
  ['SCT', '21387005', 'Hyoid bone'],
  ['SCT', '35395007', 'Incus'],
  ['SCT', '22945000', 'Inner ear'],
  ['SCT', '361078006', 'Internal Auditory Canal'],
  ['SCT', '661005', 'Jaw region'],
  ['SCT', '6229007', 'Lacrimal bone'],
  ['SCT', '4596009', 'Larynx'],
  ['SCT', '48477009', 'Lip'],
  ['SCT', '34080009', 'Malleus'],
  ['SCT', '91609006', 'Mandible'],
  ['SCT', '59066005', 'Mastoid bone'],
  ['SCT', '70925003', 'Maxilla'],
  ['SCT', '25342003', 'Middle ear'],
  ['SCT', '123851003', 'Mouth'],
  ['SCT', '22688005', 'Muscle of head'],
  ['SCT', '81727001', 'Muscle of neck'],
  ['SCT', '74386004', 'Nasal bone'],
  ['SCT', '45048000', 'Neck'],
  ['SCT', '31640002', 'Occipital bone'],
  ['SCT', '55024004', 'Optic canal'],
  ['SCT', '363654007', 'Orbital structure'],
  ['SCT', '51283005', 'Palatine bone'],
  ['SCT', '2095001', 'Paranasal sinus'],
  ['SCT', '24924006', 'Parietal bone'],
  ['SCT', '54458009', 'Saccule'],
  ['SCT', '385294005', 'Salivary gland'],
  ['SCT', '279726004', 'Semicircular canal'],
  ['SCT', '89546000', 'Skull'],
  ['SCT', '49460000', 'Soft palate'],
  ['SCT', '73117003', 'Sphenoid bone'],
  ['SCT', '22718006', 'Stapes'],
  ['SCT', '54019009', 'Submandibular gland'],
  ['SCT', '60911003', 'Temporal bone'],
  ['SCT', '53620006', 'Temporomandibular joint'],
  ['SCT', '21974007', 'Tongue'],
  ['SCT', '38199008', 'Tooth'],
  ['SCT', '44567001', 'Trachea'],
  ['SCT', '51837005', 'Tympanic cavity'],
  ['SCT', '42859004', 'Tympanic membrane'],
  ['SCT', '81955007', 'Utricle'],
  ['SCT', '110517009', 'Vertebral column and cranium'],
  ['SCT', '45006007', 'Vestibule'],
  ['SCT', '87166008', 'Vomer bone'],
  ['SCT', '13881006', 'Zygoma'],
];

/** PS3.16 CID 4062 VL View, every row (version 20250330). */
export const CID_4062_VL_VIEW: readonly Row[] = [
  ['SCT', '399033003', 'frontal'],
  ['SCT', '399173006', 'left lateral'],
  ['SCT', '260421001', 'left lateral oblique'],
  ['SCT', '399198007', 'right lateral'],
  ['SCT', '260424009', 'right lateral oblique'],
  ['SCT', '399182000', 'oblique'],
  ['SCT', '260454004', '45 degree projection'],
  ['SCT', '260427002', 'lateral oblique'],
  ['SCT', '399255003', 'submentovertical'],
  ['SCT', '260461000', 'vertex'],
];

/** PS3.16 CID 4063 VL Dental View, every row (version 20250330). */
export const CID_4063_VL_DENTAL_VIEW: readonly Row[] = [
  ['SCT', '260499007', 'Occlusal projection'],
];

/**
 * Sites whose photographs show the face or a recognisable part of it: the face and its regions
 * (forehead, temples, cheeks, chin, jaw, perioral and submental skin), eyes, eyelids and brows, nose,
 * lips and their vermilion and mucosa, ears and the skin around them (ear shape identifies people),
 * the facial skeleton and joints (maxilla, mandible, zygoma, orbit, TMJ, parotid and submandibular
 * regions), and wholes that contain the face (head, head and neck, skull, entire body). Not listed:
 * intra-oral sites (tongue, gingiva, palate, teeth), the scalp, the neck, the inner and middle ear,
 * and the retina. A photographer who frames the face with them sets recognizableVisualFeatures.
 * Erring towards YES is deliberate: it only makes exports clean more.
 */
const FACIAL_SITES: readonly string[] = [
  // CID 4029
  'SCT:85803001', 'SCT:28726007', 'SCT:41296002', 'SCT:18619003', 'SCT:46353006', 'SCT:18444004',
  'SCT:68598004', 'DCM:130305', 'SCT:38407007', 'DCM:130306', 'SCT:51098001', 'SCT:36141000',
  'SCT:23747009', 'SCT:57726007', 'FMA:59532', 'SCT:1902009', 'SCT:2059009', 'SCT:86409001',
  'SCT:362916000', 'SCT:367577003', 'SCT:73897004', 'SCT:68698007', 'SCT:70762009', 'SCT:79313003',
  'DCM:130307', 'DCM:130308', 'DCM:130312', 'SCT:45591000', 'SCT:244097004', 'SCT:37671003',
  'SCT:88089004', 'DCM:130310', 'SCT:40069000', 'DCM:130311', 'SCT:66934001', 'SCT:27887005',
  'SCT:37108007', 'SCT:113179006', 'DCM:130314', 'SCT:110488009', 'SCT:84365009', 'SCT:24483006',
  'DCM:130315', 'DCM:130316', 'SCT:86719006', 'SCT:314395006', 'SCT:34926004', 'DCM:130318',
  'DCM:130319', 'DCM:130320', 'SCT:16621002', 'SCT:79283007', 'SCT:79502000', 'DCM:130321',
  'SCT:41310005', 'DCM:130322', 'SCT:16251004', 'FMA:312651', 'FMA:312647',
  // CID 4031
  'SCT:38266002', 'SCT:81745001', 'SCT:371398005', 'SCT:91397008', 'SCT:69536005', 'SCT:774007',
  'SCT:661005', 'SCT:91609006', 'SCT:59066005', 'SCT:70925003', 'SCT:74386004', 'SCT:363654007',
  'SCT:2095001', 'SCT:45289007', 'SCT:89546000', 'SCT:54019009', 'SCT:53620006', 'SCT:110517009',
  'SCT:13881006',
  // CID 4028 (beyond those above)
  'SCT:312779009', 'SCT:28347008', 'SCT:79652003', 'SCT:74872008', 'SCT:6229007', 'SCT:48477009',
  'SCT:123851003', 'SCT:22688005',
];

/** Views that only exist for the head and show the face: submentovertical (from under the chin). */
const FACIAL_VIEWS: readonly string[] = ['SCT:399255003'];

/** A supported anatomic site or view: the standard concept plus what Lucida knows about it. */
export interface SupportedCode extends CodedConcept {
  scheme: CodingScheme;
  /** The PS3.16 context groups that list it. */
  cids: readonly number[];
  /** Photographs of it show the face (→ Recognizable Visual Features YES). */
  facial: boolean;
}

const key = (scheme: string, code: string) => `${scheme}:${code}`;

function index(groups: readonly (readonly [cid: number, rows: readonly Row[]])[], facial: readonly string[]) {
  const facialKeys = new Set(facial);
  const byKey = new Map<string, SupportedCode>();
  for (const [cid, rows] of groups) {
    for (const [scheme, code, meaning] of rows) {
      const k = key(scheme, code);
      const seen = byKey.get(k);
      if (seen) {
        byKey.set(k, { ...seen, cids: [...seen.cids, cid] });
        continue;
      }
      byKey.set(k, { code, scheme, meaning, cids: [cid], facial: facialKeys.has(k) });
    }
  }
  return byKey;
}

const SITES = index([
  [4029, CID_4029_DERMATOLOGY_ANATOMIC_SITE],
  [4031, CID_4031_COMMON_ANATOMIC_REGION],
  [4028, CID_4028_CRANIOFACIAL_ANATOMIC_REGION],
], FACIAL_SITES);

const VIEWS = index([[4062, CID_4062_VL_VIEW], [4063, CID_4063_VL_DENTAL_VIEW]], FACIAL_VIEWS);

/** Every supported anatomic site (CIDs 4029, 4031, 4028 merged; a code listed by several appears once). */
export const ANATOMIC_SITES: readonly SupportedCode[] = [...SITES.values()];
/** Every supported view (CIDs 4062 and 4063). */
export const VIEWS_SUPPORTED: readonly SupportedCode[] = [...VIEWS.values()];
/** Keys (`SCHEME:code`) the facial lists name, exported so a test can check each names a real row. */
export const FACIAL_KEYS = { sites: FACIAL_SITES, views: FACIAL_VIEWS } as const;

/** The supported anatomic site with this code value and coding scheme designator, or undefined. */
export function findAnatomicSite(code: string, scheme = 'SCT'): SupportedCode | undefined {
  return SITES.get(key(scheme, code));
}

/** The supported view (CID 4062 or 4063) with this code value and scheme, or undefined. */
export function findView(code: string, scheme = 'SCT'): SupportedCode | undefined {
  return VIEWS.get(key(scheme, code));
}

/** The Enumerated Values of Image Laterality (0020,0062): right, left, both, unpaired (or not applicable). */
export const IMAGE_LATERALITIES = ['R', 'L', 'B', 'U'] as const;
export type ImageLaterality = (typeof IMAGE_LATERALITIES)[number];

export const isImageLaterality = (v: unknown): v is ImageLaterality => (IMAGE_LATERALITIES as readonly unknown[]).includes(v);

/**
 * CID 244 Laterality (which includes CID 247), for the sides Image Laterality (0020,0062) can name.
 * 51440002's SNOMED CT preferred term is "Right and left"; PS3.16 publishes the Code Meaning "Bilateral".
 */
export const CID_244_LATERALITY: Readonly<Record<'R' | 'L' | 'B', CodedConcept>> = {
  R: { code: '24028007', scheme: 'SCT', meaning: 'Right' },
  L: { code: '7771000', scheme: 'SCT', meaning: 'Left' },
  B: { code: '51440002', scheme: 'SCT', meaning: 'Bilateral' },
};

/** The CID 244 concept for an Image Laterality, or undefined for U (unpaired or unknown). */
export function lateralityConcept(laterality: ImageLaterality): CodedConcept | undefined {
  return laterality === 'U' ? undefined : CID_244_LATERALITY[laterality];
}

/** The Image Laterality a CID 244 code stands for, or undefined when it is not Right, Left or Bilateral. */
export function lateralityFromCode(code: string, scheme = 'SCT'): 'R' | 'L' | 'B' | undefined {
  for (const side of ['R', 'L', 'B'] as const) {
    const c = CID_244_LATERALITY[side];
    if (c.code === code && c.scheme === scheme) return side;
  }
  return undefined;
}

/** The plain coded concept (what goes into the instance) of a supported code. */
export function toCodedConcept(c: SupportedCode): CodedConcept {
  return { code: c.code, scheme: c.scheme, meaning: c.meaning };
}
