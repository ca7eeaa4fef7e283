/**
 * Storage SOP classes (PS3.4 Annex B, names as in PS3.6 Annex A) that Lucida recognises by name.
 * STOW-RS accepts any syntactically valid SOP Class UID; this table gives names for logs, conformance
 * and QA, and lets callers tell a known storage class from a typo. Every UID below was checked against
 * DCMTK 3.6.7's UID table (see sop-classes.test.ts); classes newer than that release are marked.
 */
import { readAscii, type Part10File } from './reader.js';

const ROOT = '1.2.840.10008.5.1.4.1.1';

const ENTRIES: ReadonlyArray<readonly [suffix: string, name: string]> = [
  // Projection radiography
  ['1', 'Computed Radiography Image Storage'],
  ['1.1', 'Digital X-Ray Image Storage - For Presentation'],
  ['1.1.1', 'Digital X-Ray Image Storage - For Processing'],
  ['1.2', 'Digital Mammography X-Ray Image Storage - For Presentation'],
  ['1.2.1', 'Digital Mammography X-Ray Image Storage - For Processing'],
  ['1.3', 'Digital Intra-Oral X-Ray Image Storage - For Presentation'],
  ['1.3.1', 'Digital Intra-Oral X-Ray Image Storage - For Processing'],
  // CT, MR, US
  ['2', 'CT Image Storage'],
  ['2.1', 'Enhanced CT Image Storage'],
  ['2.2', 'Legacy Converted Enhanced CT Image Storage'],
  ['3.1', 'Ultrasound Multi-frame Image Storage'],
  ['4', 'MR Image Storage'],
  ['4.1', 'Enhanced MR Image Storage'],
  ['4.2', 'MR Spectroscopy Storage'],
  ['4.3', 'Enhanced MR Color Image Storage'],
  ['4.4', 'Legacy Converted Enhanced MR Image Storage'],
  ['6.1', 'Ultrasound Image Storage'],
  ['6.2', 'Enhanced US Volume Storage'],
  // Secondary capture
  ['7', 'Secondary Capture Image Storage'],
  ['7.1', 'Multi-frame Single Bit Secondary Capture Image Storage'],
  ['7.2', 'Multi-frame Grayscale Byte Secondary Capture Image Storage'],
  ['7.3', 'Multi-frame Grayscale Word Secondary Capture Image Storage'],
  ['7.4', 'Multi-frame True Color Secondary Capture Image Storage'],
  // Waveforms
  ['9.1.1', '12-lead ECG Waveform Storage'],
  ['9.1.2', 'General ECG Waveform Storage'],
  ['9.1.3', 'Ambulatory ECG Waveform Storage'],
  ['9.2.1', 'Hemodynamic Waveform Storage'],
  ['9.3.1', 'Cardiac Electrophysiology Waveform Storage'],
  ['9.4.1', 'Basic Voice Audio Waveform Storage'],
  ['9.4.2', 'General Audio Waveform Storage'],
  ['9.5.1', 'Arterial Pulse Waveform Storage'],
  ['9.6.1', 'Respiratory Waveform Storage'],
  // Presentation states
  ['11.1', 'Grayscale Softcopy Presentation State Storage'],
  ['11.2', 'Color Softcopy Presentation State Storage'],
  ['11.3', 'Pseudo-Color Softcopy Presentation State Storage'],
  ['11.4', 'Blending Softcopy Presentation State Storage'],
  ['11.5', 'XA/XRF Grayscale Softcopy Presentation State Storage'],
  // X-ray angiography, fluoroscopy, tomosynthesis
  ['12.1', 'X-Ray Angiographic Image Storage'],
  ['12.1.1', 'Enhanced XA Image Storage'],
  ['12.2', 'X-Ray Radiofluoroscopic Image Storage'],
  ['12.2.1', 'Enhanced XRF Image Storage'],
  ['13.1.1', 'X-Ray 3D Angiographic Image Storage'],
  ['13.1.2', 'X-Ray 3D Craniofacial Image Storage'],
  ['13.1.3', 'Breast Tomosynthesis Image Storage'],
  ['13.1.4', 'Breast Projection X-Ray Image Storage - For Presentation'],
  ['13.1.5', 'Breast Projection X-Ray Image Storage - For Processing'],
  ['14.1', 'Intravascular Optical Coherence Tomography Image Storage - For Presentation'],
  ['14.2', 'Intravascular Optical Coherence Tomography Image Storage - For Processing'],
  // Nuclear medicine, PET
  ['20', 'Nuclear Medicine Image Storage'],
  ['128', 'Positron Emission Tomography Image Storage'],
  ['128.1', 'Legacy Converted Enhanced PET Image Storage'],
  ['130', 'Enhanced PET Image Storage'],
  // Derived objects
  ['30', 'Parametric Map Storage'],
  ['66', 'Raw Data Storage'],
  ['66.1', 'Spatial Registration Storage'],
  ['66.2', 'Spatial Fiducials Storage'],
  ['66.3', 'Deformable Spatial Registration Storage'],
  ['66.4', 'Segmentation Storage'],
  ['66.5', 'Surface Segmentation Storage'],
  ['66.6', 'Tractography Results Storage'],
  ['66.7', 'Label Map Segmentation Storage'], // newer than DCMTK 3.6.7 (PS3.6 2024)
  ['67', 'Real World Value Mapping Storage'],
  ['68.1', 'Surface Scan Mesh Storage'],
  ['68.2', 'Surface Scan Point Cloud Storage'],
  // Visible light: endoscopy, microscopy, photography, ophthalmology
  ['77.1.1', 'VL Endoscopic Image Storage'],
  ['77.1.1.1', 'Video Endoscopic Image Storage'],
  ['77.1.2', 'VL Microscopic Image Storage'],
  ['77.1.2.1', 'Video Microscopic Image Storage'],
  ['77.1.3', 'VL Slide-Coordinates Microscopic Image Storage'],
  ['77.1.4', 'VL Photographic Image Storage'],
  ['77.1.4.1', 'Video Photographic Image Storage'],
  ['77.1.5.1', 'Ophthalmic Photography 8 Bit Image Storage'],
  ['77.1.5.2', 'Ophthalmic Photography 16 Bit Image Storage'],
  ['77.1.5.3', 'Stereometric Relationship Storage'],
  ['77.1.5.4', 'Ophthalmic Tomography Image Storage'],
  ['77.1.5.5', 'Wide Field Ophthalmic Photography Stereographic Projection Image Storage'],
  ['77.1.5.6', 'Wide Field Ophthalmic Photography 3D Coordinates Image Storage'],
  ['77.1.5.7', 'Ophthalmic Optical Coherence Tomography En Face Image Storage'],
  ['77.1.5.8', 'Ophthalmic Optical Coherence Tomography B-scan Volume Analysis Storage'],
  ['77.1.6', 'VL Whole Slide Microscopy Image Storage'],
  ['77.1.7', 'Dermoscopic Photography Image Storage'],
  ['78.1', 'Lensometry Measurements Storage'],
  ['78.2', 'Autorefraction Measurements Storage'],
  ['78.3', 'Keratometry Measurements Storage'],
  ['78.4', 'Subjective Refraction Measurements Storage'],
  ['78.5', 'Visual Acuity Measurements Storage'],
  ['78.6', 'Spectacle Prescription Report Storage'],
  ['78.7', 'Ophthalmic Axial Measurements Storage'],
  ['78.8', 'Intraocular Lens Calculations Storage'],
  ['79.1', 'Macular Grid Thickness and Volume Report Storage'],
  ['80.1', 'Ophthalmic Visual Field Static Perimetry Measurements Storage'],
  ['81.1', 'Ophthalmic Thickness Map Storage'],
  ['82.1', 'Corneal Topography Map Storage'],
  // Structured reports and documents
  ['88.11', 'Basic Text SR Storage'],
  ['88.22', 'Enhanced SR Storage'],
  ['88.33', 'Comprehensive SR Storage'],
  ['88.34', 'Comprehensive 3D SR Storage'],
  ['88.35', 'Extensible SR Storage'],
  ['88.40', 'Procedure Log Storage'],
  ['88.50', 'Mammography CAD SR Storage'],
  ['88.59', 'Key Object Selection Document Storage'],
  ['88.65', 'Chest CAD SR Storage'],
  ['88.67', 'X-Ray Radiation Dose SR Storage'],
  ['88.68', 'Radiopharmaceutical Radiation Dose SR Storage'],
  ['88.69', 'Colon CAD SR Storage'],
  ['88.70', 'Implantation Plan SR Document Storage'],
  ['88.71', 'Acquisition Context SR Storage'],
  ['88.72', 'Simplified Adult Echo SR Storage'],
  ['88.73', 'Patient Radiation Dose SR Storage'],
  ['88.74', 'Planned Imaging Agent Administration SR Storage'],
  ['88.75', 'Performed Imaging Agent Administration SR Storage'],
  ['88.76', 'Enhanced X-Ray Radiation Dose SR Storage'],
  ['90.1', 'Content Assessment Results Storage'],
  ['91.1', 'Microscopy Bulk Simple Annotations Storage'],
  ['104.1', 'Encapsulated PDF Storage'],
  ['104.2', 'Encapsulated CDA Storage'],
  ['104.3', 'Encapsulated STL Storage'],
  ['104.4', 'Encapsulated OBJ Storage'],
  ['104.5', 'Encapsulated MTL Storage'],
  ['131', 'Basic Structured Display Storage'],
  // Radiotherapy
  ['481.1', 'RT Image Storage'],
  ['481.2', 'RT Dose Storage'],
  ['481.3', 'RT Structure Set Storage'],
  ['481.4', 'RT Beams Treatment Record Storage'],
  ['481.5', 'RT Plan Storage'],
  ['481.6', 'RT Brachy Treatment Record Storage'],
  ['481.7', 'RT Treatment Summary Record Storage'],
  ['481.8', 'RT Ion Plan Storage'],
  ['481.9', 'RT Ion Beams Treatment Record Storage'],
];

/** Storage SOP Class UID → PS3.6 name. */
export const STORAGE_SOP_CLASSES: ReadonlyMap<string, string> = new Map(
  ENTRIES.map(([suffix, name]) => [`${ROOT}.${suffix}`, name]),
);

/** Well-known SOP Class UIDs Lucida's own code refers to, by PS3.6 keyword without "Storage". */
export const SOP_CLASS = {
  CTImage: `${ROOT}.2`,
  SecondaryCapture: `${ROOT}.7`,
  VLEndoscopicImage: `${ROOT}.77.1.1`,
  VLMicroscopicImage: `${ROOT}.77.1.2`,
  VLSlideCoordinatesMicroscopicImage: `${ROOT}.77.1.3`,
  VLPhotographicImage: `${ROOT}.77.1.4`,
  VideoPhotographicImage: `${ROOT}.77.1.4.1`,
  OphthalmicPhotography8BitImage: `${ROOT}.77.1.5.1`,
  OphthalmicPhotography16BitImage: `${ROOT}.77.1.5.2`,
  WideFieldOphthalmicPhotographyStereographicProjectionImage: `${ROOT}.77.1.5.5`,
  WideFieldOphthalmicPhotography3DCoordinatesImage: `${ROOT}.77.1.5.6`,
  DermoscopicPhotographyImage: `${ROOT}.77.1.7`,
  EncapsulatedPDF: `${ROOT}.104.1`,
} as const;

/**
 * VL still-image storage SOP classes (PS3.4 B.5) whose images are photographs taken through a lens.
 * Left out: the video classes, Stereometric Relationship (no pixels), Ophthalmic Tomography and OCT
 * en face (not photographs), VL Whole Slide Microscopy (tiled multi-frame).
 */
export const PHOTOGRAPH_SOP_CLASSES: ReadonlySet<string> = new Set([
  SOP_CLASS.VLEndoscopicImage,
  SOP_CLASS.VLMicroscopicImage,
  SOP_CLASS.VLSlideCoordinatesMicroscopicImage,
  SOP_CLASS.VLPhotographicImage,
  SOP_CLASS.OphthalmicPhotography8BitImage,
  SOP_CLASS.OphthalmicPhotography16BitImage,
  SOP_CLASS.WideFieldOphthalmicPhotographyStereographicProjectionImage,
  SOP_CLASS.WideFieldOphthalmicPhotography3DCoordinatesImage,
  SOP_CLASS.DermoscopicPhotographyImage,
]);

/** A single-frame image of one of the {@link PHOTOGRAPH_SOP_CLASSES}: what gets image-quality figures. */
export function isPhotograph(sopClassUID: string, numberOfFrames: number): boolean {
  return PHOTOGRAPH_SOP_CLASSES.has(sopClassUID) && numberOfFrames === 1;
}

/** SOP Class UID (0008,0016) of a read file, or undefined when it has none. */
export function sopClassOf(file: Part10File): string | undefined {
  const el = file.dataset.elements.get(0x00080016);
  return el?.items ? undefined : readAscii(file.bytes, el);
}

/** True when `uid` is a storage SOP class listed in {@link STORAGE_SOP_CLASSES}. */
export function isStorageSopClass(uid: string): boolean {
  return STORAGE_SOP_CLASSES.has(uid);
}
