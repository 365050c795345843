"""Name pools for the synthetic population, reflecting the mix of people an English RMC serves.

Each origin has a weight (roughly its share of a large English city's population), given names by
sex and family names. Spellings keep their apostrophes, hyphens and diacritics on purpose: intake
must store them exactly (NFC), and the pages must show them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NameOrigin:
    """A pool of names from one background, with its share of the synthetic population."""

    label: str
    weight: float
    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[str, ...]


def _split(words: str) -> tuple[str, ...]:
    return tuple(word.replace("_", " ") for word in words.split())


NAME_ORIGINS: tuple[NameOrigin, ...] = (
    NameOrigin(
        "English",
        40,
        _split(
            "Olivia Amelia Isla Ava Emily Sophie Grace Chloé Zoë Lily Jessica Hannah Charlotte "
            "Margaret Susan Patricia Elizabeth Joan Dorothy Jean Sarah Rebecca Emma Lucy Renée "
            "Ellie-May Mary-Jane Hazel Pauline Wendy Tracey Beverley Kathleen Rosie"
        ),
        _split(
            "Oliver George Harry Jack Noah Charlie Thomas James William Henry Arthur Alfie "
            "Daniel Matthew David John Peter Michael Paul Robert Stephen Christopher Mark Gary "
            "Kevin Brian Keith Geoffrey Derek Billy-Joe Ronald Stanley"
        ),
        _split(
            "Smith Jones Taylor Brown Wilson Johnson Walker Wright Robinson Thompson White "
            "Hughes Edwards Green Hall Wood Harris Clarke Jackson Turner Hill Moore Cooper Ward "
            "Baker Cox Parker Bennett Shaw Holmes Smith-Jones Fairweather Ashworth Hargreaves "
            "Pickering-Lowe Ormerod Sutcliffe Butterworth Entwistle D'Arcy Le_Fevre"
        ),
    ),
    NameOrigin(
        "Welsh",
        4,
        _split("Siân Megan Ffion Cerys Bethan Angharad Rhiannon Gwenllian Eirlys Non Elin Lowri"),
        _split("Dafydd Rhys Gareth Iwan Owain Emyr Gethin Ioan Bryn Huw Aled Cai Llŷr"),
        _split(
            "Jones Williams Davies Evans Thomas Roberts Lewis Morgan Griffiths Price Pritchard "
            "Llewellyn ap_Rhys Powell Vaughan Rees Bowen Prosser"
        ),
    ),
    NameOrigin(
        "Scottish",
        4,
        _split("Isla Eilidh Morag Catriona Kirsty Fiona Ailsa Mhairi Shona Iona Euphemia"),
        _split("Callum Hamish Angus Fraser Ewan Ruaridh Alasdair Lachlan Murdo Struan Finlay"),
        _split(
            "MacDonald McLeod Campbell Stewart Robertson Murray MacKenzie Fraser Cameron "
            "Buchanan McIntyre Sinclair Ferguson MacLeòid Drummond"
        ),
    ),
    NameOrigin(
        "Irish",
        5,
        _split("Aoife Siobhán Niamh Saoirse Róisín Bríd Caoimhe Gráinne Orla Mairéad Clodagh"),
        _split("Seán Ciarán Pádraig Eoin Oisín Cathal Donal Diarmuid Colm Tadhg Declan Éamon"),
        _split(
            "O'Brien O'Sullivan Murphy Kelly O'Connor Byrne Ryan Walsh McCarthy Doherty "
            "Ó_Súilleabháin Ní_Bhriain Mac_Giolla Gallagher O'Neill Fitzgerald"
        ),
    ),
    NameOrigin(
        "South Asian",
        12,
        _split(
            "Aisha Fatima Priya Anjali Sunita Parveen Nasreen Harpreet Simran Gurpreet Shabana "
            "Rukhsana Meena Deepika Shazia Amrita Noor Zainab"
        ),
        _split(
            "Mohammed Muhammad Ali Imran Rajesh Sanjay Arjun Harjit Gurdeep Kuldip Amir Tariq "
            "Vikram Rohan Sandeep Shahid Faisal Ibrahim"
        ),
        _split(
            "Khan Patel Ahmed Hussain Begum Shah Singh Kaur Akhtar Iqbal Rahman Chowdhury "
            "Uddin Sharma Gupta Mistry Sandhu Dhillon Bibi Qureshi Siddiqui Malik"
        ),
    ),
    NameOrigin(
        "Polish",
        4,
        _split("Agnieszka Małgorzata Katarzyna Zofia Magdalena Joanna Ewa Jadwiga Urszula Beata"),
        _split("Łukasz Paweł Piotr Krzysztof Tomasz Michał Wojciech Grzegorz Jakub Bartłomiej"),
        _split(
            "Nowak Kowalski Wiśniewska Wójcik Kowalczyk Kamiński Lewandowska Zieliński "
            "Szymańska Woźniak Dąbrowski Kozłowska Jankowski Mędrzycka Żak"
        ),
    ),
    NameOrigin(
        "Nigerian",
        4,
        _split("Chiamaka Ngozi Adaeze Funmilayo Oluwaseun Folake Chinwe Ifeoma Temitope Yetunde"),
        _split("Chinedu Oluwadamilare Emeka Babatunde Obinna Olumide Tunde Chukwuemeka Ikenna"),
        _split(
            "Okafor Adeyemi Okonkwo Balogun Eze Nwosu Oyelaran Adebayo Okoro Ogunleye "
            "Chukwu Obi Afolabi Nwachukwu Adewale-Johnson"
        ),
    ),
    NameOrigin(
        "Ghanaian",
        2,
        _split("Akosua Ama Abena Efua Adwoa Afua Yaa Esi Akua"),
        _split("Kwame Kofi Kwabena Kojo Yaw Kwaku Kwasi Fiifi Ekow"),
        _split("Mensah Asante Boateng Owusu Osei Agyeman Appiah Acheampong Darko Ofori-Atta"),
    ),
    NameOrigin(
        "Chinese and Vietnamese",
        3,
        _split("Mei Xiu_Ying Li_Na Wen Jing Hui Lan Thi_Hoa Ngọc_Anh Thuỷ Mai"),
        _split("Wei Jun Hao Jian Ming Zhi Cheng Minh Tuấn Đức Quang"),
        _split("Wang Li Zhang Chen Liu Wong Chan Leung Cheung Nguyễn Trần Lê Phạm Huang Ho"),
    ),
    NameOrigin(
        "Caribbean",
        4,
        _split("Marcia Beverley Claudette Sharon Maxine Jacqueline Yvonne Jada Shanice Precious"),
        _split("Winston Delroy Clive Lloyd Desmond Errol Marlon Leroy Tyrone Jermaine Devon"),
        _split(
            "Campbell Brown Williams Francis Bailey Clarke Grant Reid Thompson Morrison "
            "Henry Gordon Beckford St_Hilaire McKenzie"
        ),
    ),
    NameOrigin(
        "Somali",
        2,
        _split("Hodan Faduma Amina Hawa Ubah Sagal Ayan Khadra Nimco Ifrah"),
        _split("Abdirahman Mohamed Abdullahi Hassan Yusuf Abdi Omar Ahmed Mahad Liban"),
        _split("Ali Farah Hassan Warsame Osman Jama Abdi Mohamud Ismail Nur Guled Egal"),
    ),
    NameOrigin(
        "Arabic",
        3,
        _split("Layla Mariam Yasmin Huda Rania Salma Noura Lina Dalia Amal"),
        _split("Omar Khaled Youssef Ahmad Hamza Karim Tariq Sami Nabil Ziad"),
        _split(
            "Al-Rashid Haddad Mansour Saleh Nasser El-Amin Al-Masri Khalil Darwish Aziz "
            "Abu-Bakr Hamdan"
        ),
    ),
    NameOrigin(
        "Romanian",
        2,
        _split("Ioana Andreea Elena Mihaela Ștefania Gabriela Cristina Raluca Alexandra Oana"),
        _split("Andrei Ștefan Mihai Alexandru Ionuț Cătălin Florin Bogdan Răzvan Vlad"),
        _split(
            "Popescu Ionescu Popa Dumitrescu Stan Stoica Gheorghe Rădulescu Munteanu Țurcanu "
            "Constantinescu Lăzărescu"
        ),
    ),
    NameOrigin(
        "Other European",
        3,
        _split("Maria Ana Sofia Inês Giulia Chiara Anna Maria-Luísa Léa Anaïs Ágnes Ingrid"),
        _split("José João Luca Marco Giorgos Dimitris François Jürgen Søren Zoltán Miguel"),
        _split(
            "Silva Santos Ferreira Rossi Esposito Russo Papadopoulos García Müller Schäfer "
            "Jensen Nagy Dubois Fernández De_Souza Van_der_Berg"
        ),
    ),
)

# Languages other than English that patients ask for, in rough order of how often.
INTERPRETER_LANGUAGES: tuple[str, ...] = (
    "Polish",
    "Urdu",
    "Bengali",
    "Punjabi",
    "Arabic",
    "Somali",
    "Romanian",
    "Gujarati",
    "Portuguese",
    "Lithuanian",
    "Tamil",
    "Cantonese",
    "Mandarin",
    "Farsi",
    "Kurdish",
    "Tigrinya",
    "Vietnamese",
    "British Sign Language",
)
