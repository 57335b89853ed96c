from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IdentifyRequest(_message.Message):
    __slots__ = ("image_path",)
    IMAGE_PATH_FIELD_NUMBER: _ClassVar[int]
    image_path: str
    def __init__(self, image_path: _Optional[str] = ...) -> None: ...

class Box(_message.Message):
    __slots__ = ("top", "right", "bottom", "left")
    TOP_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    BOTTOM_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    top: int
    right: int
    bottom: int
    left: int
    def __init__(self, top: _Optional[int] = ..., right: _Optional[int] = ..., bottom: _Optional[int] = ..., left: _Optional[int] = ...) -> None: ...

class Face(_message.Message):
    __slots__ = ("box", "nearest_person_id", "nearest_person_name", "nearest_person_image_id", "distance", "matched", "named", "runner_up", "encoding")
    BOX_FIELD_NUMBER: _ClassVar[int]
    NEAREST_PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    NEAREST_PERSON_NAME_FIELD_NUMBER: _ClassVar[int]
    NEAREST_PERSON_IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    NAMED_FIELD_NUMBER: _ClassVar[int]
    RUNNER_UP_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    box: Box
    nearest_person_id: int
    nearest_person_name: str
    nearest_person_image_id: int
    distance: float
    matched: bool
    named: Candidate
    runner_up: Candidate
    encoding: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, box: _Optional[_Union[Box, _Mapping]] = ..., nearest_person_id: _Optional[int] = ..., nearest_person_name: _Optional[str] = ..., nearest_person_image_id: _Optional[int] = ..., distance: _Optional[float] = ..., matched: _Optional[bool] = ..., named: _Optional[_Union[Candidate, _Mapping]] = ..., runner_up: _Optional[_Union[Candidate, _Mapping]] = ..., encoding: _Optional[_Iterable[float]] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("person_id", "person_name", "person_image_id", "distance")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_NAME_FIELD_NUMBER: _ClassVar[int]
    PERSON_IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    person_id: int
    person_name: str
    person_image_id: int
    distance: float
    def __init__(self, person_id: _Optional[int] = ..., person_name: _Optional[str] = ..., person_image_id: _Optional[int] = ..., distance: _Optional[float] = ...) -> None: ...

class Timings(_message.Message):
    __slots__ = ("decode_ms", "detect_ms", "encode_ms", "match_ms")
    DECODE_MS_FIELD_NUMBER: _ClassVar[int]
    DETECT_MS_FIELD_NUMBER: _ClassVar[int]
    ENCODE_MS_FIELD_NUMBER: _ClassVar[int]
    MATCH_MS_FIELD_NUMBER: _ClassVar[int]
    decode_ms: float
    detect_ms: float
    encode_ms: float
    match_ms: float
    def __init__(self, decode_ms: _Optional[float] = ..., detect_ms: _Optional[float] = ..., encode_ms: _Optional[float] = ..., match_ms: _Optional[float] = ...) -> None: ...

class IdentifyResponse(_message.Message):
    __slots__ = ("faces", "known_faces", "tolerance", "detection_model", "gallery_last_id", "timings")
    FACES_FIELD_NUMBER: _ClassVar[int]
    KNOWN_FACES_FIELD_NUMBER: _ClassVar[int]
    TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    DETECTION_MODEL_FIELD_NUMBER: _ClassVar[int]
    GALLERY_LAST_ID_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    faces: _containers.RepeatedCompositeFieldContainer[Face]
    known_faces: int
    tolerance: float
    detection_model: str
    gallery_last_id: int
    timings: Timings
    def __init__(self, faces: _Optional[_Iterable[_Union[Face, _Mapping]]] = ..., known_faces: _Optional[int] = ..., tolerance: _Optional[float] = ..., detection_model: _Optional[str] = ..., gallery_last_id: _Optional[int] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ...) -> None: ...

class EncodeRequest(_message.Message):
    __slots__ = ("image_path", "box")
    IMAGE_PATH_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    image_path: str
    box: Box
    def __init__(self, image_path: _Optional[str] = ..., box: _Optional[_Union[Box, _Mapping]] = ...) -> None: ...

class EncodeResponse(_message.Message):
    __slots__ = ("encoding", "box", "faces_found")
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    FACES_FOUND_FIELD_NUMBER: _ClassVar[int]
    encoding: _containers.RepeatedScalarFieldContainer[float]
    box: Box
    faces_found: int
    def __init__(self, encoding: _Optional[_Iterable[float]] = ..., box: _Optional[_Union[Box, _Mapping]] = ..., faces_found: _Optional[int] = ...) -> None: ...
